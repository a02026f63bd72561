"""Reading and writing the parts every master-data profile shares: typed Names, object
references, configuration events, and elements built in profile order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from cimhub.errors import InvalidValueError
from cimhub.mappings.timestamp import to_epoch, to_text


def tag(uri: str) -> Callable[[str], str]:
    """A qualified-name maker for one payload namespace."""
    return lambda local: f"{{{uri}}}{local}"


def text(el: etree._Element | None, path: str, q: Callable[[str], str]) -> str | None:
    """Stripped text at a '/'-separated path of local names, or None."""
    if el is None:
        return None
    found = el.find("/".join(q(p) for p in path.split("/")))
    value = found.text.strip() if found is not None and found.text else ""
    return value or None


def typed_names(el: etree._Element, q: Callable[[str], str]) -> dict[str, str]:
    """{NameType/name lower-cased, letters only: name} of the element's Names."""
    out: dict[str, str] = {}
    for name in el.iterfind(q("Names")):
        kind = "".join(ch for ch in (text(name, "NameType/name", q) or "").lower() if ch.isalnum())
        value = text(name, "name", q)
        if value:
            out.setdefault(kind, value)
    return out


@dataclass(frozen=True, slots=True)
class Ref:
    """An IdentifiedObjectRef: mRID and/or names, with the NameType of each name."""

    mrid: str | None = None
    names: dict[str, str] = field(default_factory=dict)  # kind → name

    @property
    def key(self) -> str | None:
        return self.mrid or next(iter(self.names.values()), None)


def ref(el: etree._Element, q: Callable[[str], str]) -> Ref:
    names = typed_names(el, q)
    untyped = [text(n, "name", q) for n in el.iterfind(q("Names")) if n.find(q("NameType")) is None]
    if untyped and untyped[0]:
        names.setdefault("", untyped[0])
    return Ref(text(el, "mRID", q) or el.get("ref"), names)


def number(value: str | None, what: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidValueError(f"{what} {value!r} is not a number") from None


def flag(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("true", "1", "yes", "y")


def moment(value: str | None) -> int | None:
    """A DateOrDateTime as epoch seconds; a bare date is midnight IST (+05:30)."""
    if value is None:
        return None
    return to_epoch(value if "T" in value else f"{value}T00:00:00+05:30")


@dataclass(frozen=True, slots=True)
class ConfigEvent:
    """ConfigurationEvent(s): when the change takes effect, who made it and why."""

    effective: int | None = None
    by: str = ""
    reason: str = ""
    names: dict[str, str] = field(default_factory=dict)


def config_event(el: etree._Element | None, q: Callable[[str], str]) -> ConfigEvent:
    if el is None:
        return ConfigEvent()
    return ConfigEvent(
        moment(text(el, "effectiveDateTime", q)),
        text(el, "modifiedBy", q) or "",
        text(el, "reason", q) or text(el, "remark", q) or "",
        typed_names(el, q),
    )


class Builder:
    """Writes a profile's elements; values that are None are left out."""

    def __init__(self, uri: str) -> None:
        self.q = tag(uri)
        self.uri = uri

    def sub(self, parent: etree._Element, local: str, value: object = None) -> etree._Element:
        el = etree.SubElement(parent, self.q(local))
        if value is not None:
            el.text = _render(value)
        return el

    def opt(self, parent: etree._Element, local: str, value: object) -> None:
        if value is not None and value != "":
            self.sub(parent, local, value)

    def name(self, parent: etree._Element, value: object, kind: str | None = None) -> None:
        if value is None or value == "":
            return
        names = self.sub(parent, "Names")
        self.sub(names, "name", value)
        if kind:
            self.sub(self.sub(names, "NameType"), "name", kind)

    def stamp(self, epoch: int | None) -> str | None:
        return to_text(epoch) if epoch is not None else None


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
