"""Comparing replies canonically: masks and ignores applied, then C14N of both sides.

Before canonicalisation both trees are normalised the same way, so that only differences
in meaning remain:

* namespace prefixes are chosen from the URI (`msg`, `MeterReadingsMessage`, …), so
  `ns0:Verb` and `msg:Verb` compare equal;
* whitespace around text is dropped (CIM has no mixed content);
* an xs:dateTime with a zone is rewritten in UTC (`2024-06-15T00:15:00+05:30` equals
  `2024-06-14T18:45:00Z`), and a decimal `value` is written in its shortest form;
* nodes the case *ignores* are removed from both sides; nodes it *masks* keep their
  place but their text is replaced, so they must be present and may hold anything.

Paths in mask and ignore lists name elements by local name, match anywhere in the reply,
and may end in an attribute: `Header/Timestamp`, `Reply/Error/reason`, `Reply/ID/@kind`,
`Payload//timeStamp`.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from lxml import etree

from cimhub.message import ns

MASKED = "«masked»"
_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_KNOWN_PREFIXES = {ns.MESSAGE: "msg", ns.SOAP11: "soap"}


@lru_cache(maxsize=256)
def path_xpath(path: str) -> etree.XPath:
    """'Reply/Error/reason' → an XPath matching that chain anywhere, by local names.

    >>> path_xpath("Payload//timeStamp").path
    "//*[local-name()='Payload']//*[local-name()='timeStamp']"
    """
    steps, attribute = path.strip(), None
    if "@" in steps:
        steps, _, attribute = steps.rpartition("@")
    expr, separator = "", "//"
    for step in steps.strip("/").split("/"):
        if step == "":  # an empty step comes from '//': any depth, or an attribute-only path
            separator = "//"
            continue
        name, bracket, index = step.partition("[")
        test = "*" if name == "*" else f"*[local-name()='{name}']"
        expr += separator + test + bracket + index
        separator = "/"
    expr = expr or "//*"
    if attribute is not None:
        expr += f"/@*[local-name()='{attribute}']"
    return etree.XPath(expr)


def normalised(
    element: etree._Element, mask: Iterable[str] = (), ignore: Iterable[str] = ()
) -> etree._Element:
    """A normalised copy of `element` (see the module docstring)."""
    copy = _rebuild(element)
    for path in ignore:
        for node in path_xpath(path)(copy):
            _remove(node)
    for path in mask:
        for node in path_xpath(path)(copy):
            _mask(node)
    etree.cleanup_namespaces(copy)  # drop declarations only ignored nodes used
    return copy


def canonical_text(element: etree._Element) -> str:
    """Canonical XML (C14N 1.0) of a normalised tree, indented one element per line."""
    etree.indent(element, space="  ")
    return etree.tostring(element, method="c14n").decode()


def canonical(element: etree._Element, mask: Iterable[str] = (), ignore: Iterable[str] = ()) -> str:
    return canonical_text(normalised(element, mask, ignore))


def diff(expected: str, actual: str) -> str:
    """A unified diff of two canonical texts ('' when they are equal)."""
    if expected == actual:
        return ""
    lines = difflib.unified_diff(
        expected.splitlines(), actual.splitlines(), "expected", "actual", lineterm="", n=2
    )
    return "\n".join(lines)


def _prefix(uri: str) -> str:
    if uri in _KNOWN_PREFIXES:
        return _KNOWN_PREFIXES[uri]
    if noun := ns.noun_of_message_ns(uri):
        return f"{noun}Message"
    if noun := ns.noun_of_payload_ns(uri):
        return noun
    return "ns" + hashlib.sha1(uri.encode()).hexdigest()[:6]


def _rebuild(source: etree._Element) -> etree._Element:
    """Copy with URI-derived prefixes (all declared on the root), stripped text, UTC
    date-times and short decimals."""
    uris = {ns.split(e.tag)[0] for e in source.iter() if isinstance(e.tag, str)} - {""}
    target = etree.Element(source.tag, nsmap={_prefix(u): u for u in sorted(uris)})
    _copy(source, target)
    return target


def _copy(source: etree._Element, target: etree._Element) -> None:
    for name, value in sorted(source.attrib.items()):
        target.set(name, value.strip())
    target.text = _value(source) if source.text and source.text.strip() else None
    for child in source:
        if isinstance(child.tag, str):  # not comments or processing instructions
            _copy(child, etree.SubElement(target, child.tag))


def _value(element: etree._Element) -> str:
    text = (element.text or "").strip()
    if _DATETIME.match(text):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if ns.split(element.tag)[1] == "value" and _DECIMAL.match(text):
        try:
            return _short_decimal(Decimal(text))
        except InvalidOperation:
            return text
    return text


def _short_decimal(number: Decimal) -> str:
    """'0.4120' → '0.412', '12.0' → '12', '1E+1' → '10'."""
    text = format(number.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _remove(node: etree._Element | str) -> None:
    if isinstance(node, str):  # an attribute value: lxml gives its parent and name
        parent = node.getparent()  # type: ignore[attr-defined]
        if parent is not None:
            del parent.attrib[node.attrname]  # type: ignore[attr-defined]
        return
    parent = node.getparent()
    if parent is not None:
        parent.remove(node)


def _mask(node: etree._Element | str) -> None:
    if isinstance(node, str):
        parent = node.getparent()  # type: ignore[attr-defined]
        if parent is not None:
            parent.set(node.attrname, MASKED)  # type: ignore[attr-defined]
        return
    node.text = MASKED
    for child in list(node):
        node.remove(child)
