"""The WSDLs and XSDs we ship (``cim/wsdl``, ``cim/xsd``), as a server offers them: each
WSDL's soap:address and schema imports pointing at that server."""

from __future__ import annotations

import re
from importlib import resources

#: Where our WSDLs say their service lives until a server addresses them.
PLACEHOLDER = "http://localhost:8061/soap/"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def cim_dir() -> resources.abc.Traversable:
    return resources.files("cimhub") / "cim"


def addressed(service: str, base: str) -> str | None:
    """The service's WSDL, its address ``<base>/soap/<service>`` and its schemas imported
    from ``<base>/soap/xsd/``; None when we ship no such service."""
    entry = cim_dir() / "wsdl" / f"{service}.wsdl"
    if not _NAME.match(service) or not entry.is_file():
        return None
    return (
        entry.read_text(encoding="utf-8")
        .replace(f"{PLACEHOLDER}{service}", f"{base}/soap/{service}")
        .replace('schemaLocation="../xsd/', f'schemaLocation="{base}/soap/xsd/')
    )


def xsd(name: str) -> bytes | None:
    """One of the XSDs the WSDLs import (``Name.xsd``); None when there is no such file."""
    entry = cim_dir() / "xsd" / name
    if not name.endswith(".xsd") or not _NAME.match(name[:-4]) or not entry.is_file():
        return None
    return entry.read_bytes()
