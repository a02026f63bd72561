"""What came back from the endpoint, and what a message says: header, result, codes, readings.

Everything is read by local name, so a reply written with other prefixes or a legacy
namespace variant is read the same way. Replies are untrusted input: they are parsed by
the hub's hardened parser (no DTDs, no entities, bounded size and depth).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from cimhub.errors import CimHubError
from cimhub.message import ns, parser

REPLY_LIMITS = parser.Limits(max_bytes=512 * 1024 * 1024, max_depth=64)
_FAULT_CODE = re.compile(r"^\s*(\d+\.\d+)\b")


def child(element: etree._Element | None, *path: str) -> etree._Element | None:
    """The first descendant along a chain of local names."""
    for local in path:
        if element is None:
            return None
        element = next(
            (c for c in element if isinstance(c.tag, str) and ns.split(c.tag)[1] == local), None
        )
    return element


def children(element: etree._Element | None, local: str) -> list[etree._Element]:
    if element is None:
        return []
    return [c for c in element if isinstance(c.tag, str) and ns.split(c.tag)[1] == local]


def soap_body(envelope: etree._Element) -> list[etree._Element] | None:
    """The elements in a SOAP 1.1 Envelope's Body; None when it is not an Envelope."""
    if envelope.tag != ns.qname(ns.SOAP11, "Envelope"):
        return None
    body = child(envelope, "Body")
    return [c for c in body if isinstance(c.tag, str)] if body is not None else []


def text(element: etree._Element | None, *path: str) -> str | None:
    found = child(element, *path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def parse_untrusted(body: bytes) -> etree._Element:
    """Parse a reply with the hub's hardened parser; raise ValueError with the reason."""
    try:
        return parser.parse(body, REPLY_LIMITS)
    except CimHubError as exc:
        raise ValueError(exc.reason) from exc


@dataclass(frozen=True, slots=True)
class Fault:
    code: str
    string: str


@dataclass(slots=True)
class Observed:
    """One exchange as the runner saw it."""

    status: int | None = None  # HTTP status
    body: bytes = b""
    message: etree._Element | None = None  # the 61968-100 reply (a SOAP Body's child)
    fault: Fault | None = None
    problem: str | None = None  # no answer, or an answer that is not a reply
    elapsed: float = 0.0
    sent: bytes = b""
    url: str = ""
    pages: list[Observed] = field(default_factory=list)  # a paged reply's further pages

    @property
    def result(self) -> str | None:
        if self.fault is not None and self.message is None:
            return "FAILED"
        return text(self.message, "Reply", "Result")

    @property
    def codes(self) -> list[str]:
        if self.message is not None:
            return [text(e, "code") or "" for e in children(child(self.message, "Reply"), "Error")]
        if self.fault is not None and (match := _FAULT_CODE.match(self.fault.string)):
            return [match.group(1)]
        return []

    @property
    def verb(self) -> str | None:
        return text(self.message, "Header", "Verb")

    @property
    def noun(self) -> str | None:
        return text(self.message, "Header", "Noun")

    @property
    def correlation_id(self) -> str | None:
        return text(self.message, "Header", "CorrelationID")

    @property
    def continuation(self) -> str | None:
        for ident in children(child(self.message, "Reply"), "ID"):
            if ident.get("idType") == "continuation" and ident.text:
                return ident.text.strip()
        return None


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """What the runner needs to know of a message it sends."""

    verb: str | None
    noun: str | None
    message_id: str | None
    correlation_id: str | None
    element: str  # Clark name of the message element


def request_header(body: bytes) -> RequestHeader | None:
    """The header of a message (or of the one in a SOAP Body); None when it is not
    readable (hostile cases)."""
    try:
        root = parse_untrusted(body)
    except ValueError:
        return None
    inner = soap_body(root)
    if inner is not None:
        if len(inner) != 1:
            return None
        root = inner[0]
    header = child(root, "Header")
    return RequestHeader(
        text(header, "Verb"),
        text(header, "Noun"),
        text(header, "MessageID"),
        text(header, "CorrelationID"),
        root.tag,
    )


ReadingKey = tuple[str, str, int]  # meter (mRID, else first name), reading type, epoch


@dataclass(slots=True)
class Readings:
    """The readings of a MeterReadings payload, with the names each meter goes by."""

    values: dict[ReadingKey, float] = field(default_factory=dict)
    qualities: dict[ReadingKey, frozenset[str]] = field(default_factory=dict)
    aliases: dict[str, set[str]] = field(default_factory=dict)  # meter key → mRID and names
    repeated: Counter[ReadingKey] = field(default_factory=Counter)

    def merge(self, other: Readings) -> None:
        for key in other.values.keys() & self.values.keys():
            self.repeated[key] += 1
        self.values.update(other.values)
        self.qualities.update(other.qualities)
        for meter, names in other.aliases.items():
            self.aliases.setdefault(meter, set()).update(names)
        self.repeated.update(other.repeated)

    def meter_matches(self, meter_key: str, wanted: str) -> bool:
        return wanted == meter_key or wanted in self.aliases.get(meter_key, ())


def readings_of(message: etree._Element | None) -> Readings:
    """Every interval and register reading in the message's MeterReadings payload."""
    found = Readings()
    if message is None:
        return found
    for reading in message.iter("{*}MeterReading"):
        meter = child(reading, "Meter")
        mrid = text(meter, "mRID")
        names = (
            [(n.text or "").strip() for n in meter.iterfind("{*}Names/{*}name")]
            if (meter is not None)
            else []
        )
        key = mrid or (names[0] if names else "?")
        found.aliases.setdefault(key, set()).update(n for n in (mrid, *names) if n)
        for block in children(reading, "IntervalBlocks"):
            code = _reading_type(child(block, "ReadingType"))
            for point in children(block, "IntervalReadings"):
                _add(found, key, code, point)
        for point in children(reading, "Readings"):
            _add(found, key, _reading_type(child(point, "ReadingType")), point)
    return found


def _reading_type(element: etree._Element | None) -> str:
    if element is None:
        return "?"
    return element.get("ref") or text(element, "mRID") or text(element, "Names", "name") or "?"


def _add(found: Readings, meter: str, code: str, point: etree._Element) -> None:
    at, value = epoch(text(point, "timeStamp")), text(point, "value")
    if at is None or value is None:
        return
    try:
        number = float(value)
    except ValueError:
        return
    key = (meter, code, at)
    if key in found.values:
        found.repeated[key] += 1
    found.values[key] = number
    refs = point.xpath(
        "*[local-name()='ReadingQualities']/*[local-name()='ReadingQualityType']/@ref"
    )
    if refs:
        found.qualities[key] = frozenset(str(r) for r in refs)


def epoch(stamp: str | None) -> int | None:
    """An xs:dateTime with a zone → UTC epoch seconds; anything else → None."""
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.strip())
    except ValueError:
        return None
    return int(moment.timestamp()) if moment.tzinfo is not None else None
