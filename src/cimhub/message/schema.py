"""The compiled XSD set (all our profiles, one lxml schema) and pointed validation errors."""

from __future__ import annotations

from functools import cache
from importlib import resources

from lxml import etree

from cimhub.errors import SchemaValidationError

CATALOG = "catalog.xsd"


def xsd_dir() -> resources.abc.Traversable:
    return resources.files("cimhub") / "cim" / "xsd"


@cache
def compiled_schema() -> etree.XMLSchema:
    """Compile every profile once per process (a few hundred ms); reused for every message."""
    with resources.as_file(xsd_dir() / CATALOG) as path:
        return etree.XMLSchema(etree.parse(str(path), etree.XMLParser(no_network=True)))


def known_namespaces() -> frozenset[str]:
    """Every target namespace the profiles declare."""
    return _target_namespaces()


@cache
def _target_namespaces() -> frozenset[str]:
    found = set()
    for entry in xsd_dir().iterdir():
        if entry.name.endswith(".xsd") and entry.name != CATALOG:
            tree = etree.fromstring(entry.read_bytes(), etree.XMLParser(no_network=True))
            if tns := tree.get("targetNamespace"):
                found.add(tns)
    return frozenset(found)


def validate(element: etree._Element) -> None:
    """Validate a message root; raise SchemaValidationError naming the first fault's place."""
    schema = compiled_schema()
    if schema.validate(element):
        return
    errors = list(schema.error_log)
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise SchemaValidationError(
        f"line {first.line}: {first.message}{more}", xpath=first.path, line=first.line
    )
