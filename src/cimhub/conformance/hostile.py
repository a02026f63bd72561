"""Hostile bodies too big or too deep to keep as files: generated from a case's request.

* `oversize`: the request padded with whitespace before its closing tag to one byte more
  than the endpoint's declared limit (`--max-message-bytes`, cimhub's default 50 MiB);
* `deep`: the request with `{{DEEP}}` replaced by `depth` nested elements.

The other hostile inputs (XXE, entity expansion, invalid UTF-8) are small and live in
their case folders as they are sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEEP_PLACEHOLDER = b"{{DEEP}}"


def oversize(template: bytes, params: dict[str, Any], max_message_bytes: int) -> bytes:
    """`template` grown to max_message_bytes + 1 bytes, still well-formed."""
    closing = template.rstrip().rfind(b"</")
    if closing < 0:
        raise ValueError("an oversize template needs a closing tag to pad before")
    missing = max_message_bytes + 1 - len(template)
    return template[:closing] + b" " * max(missing, 0) + template[closing:]


def deep(template: bytes, params: dict[str, Any], max_message_bytes: int) -> bytes:
    """`template` with {{DEEP}} replaced by `depth` nested <d> elements."""
    depth = int(params.get("depth", 10_000))
    if DEEP_PLACEHOLDER not in template:
        raise ValueError("a deep template needs a {{DEEP}} placeholder")
    return template.replace(DEEP_PLACEHOLDER, b"<d>" * depth + b"</d>" * depth, 1)


Generator = Callable[[bytes, dict[str, Any], int], bytes]
GENERATORS: dict[str, Generator] = {"oversize": oversize, "deep": deep}


def generate(template: bytes, params: dict[str, Any], max_message_bytes: int) -> bytes:
    return GENERATORS[params["kind"]](template, params, max_message_bytes)
