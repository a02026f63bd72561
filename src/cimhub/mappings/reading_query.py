"""GetMeterReadings requests → a ReadingQuery (liberal in the shapes it accepts), and the
GetMeterReadings object the hub sends a head-end to read one meter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from cimhub.domain.meter_read import Period
from cimhub.domain.reading import MeterRef
from cimhub.errors import InvalidQueryError
from cimhub.mappings.cim_object import Builder
from cimhub.mappings.timestamp import to_epoch, to_text
from cimhub.message import ns
from cimhub.message.envelope import Envelope

GMR = ns.payload_ns("GetMeterReadings")
_M = ns.MESSAGE
CONTINUATION_OPTION = "continuation"
RAW_OPTION = "raw"  #: Option raw=true: the raw readings as received, not the validated layer
AS_OF_OPTION = "asOf"  #: Option asOf=<dateTime>: the validated layer as it stood then
#: Option onDemand=true: read the meters from their head-ends now; false: never, even stale
ON_DEMAND_OPTION = "onDemand"
_YES, _NO = ("true", "1", "yes"), ("false", "0", "no")


def _t(local: str) -> str:
    return f"{{{GMR}}}{local}"


@dataclass(frozen=True, slots=True)
class ReadingQuery:
    meters: list[MeterRef] = field(default_factory=list)
    usage_points: list[MeterRef] = field(default_factory=list)
    reading_types: list[str] = field(default_factory=list)
    start: int | None = None
    end: int | None = None
    continuation: str | None = None
    raw: bool = False
    as_of: int | None = None
    on_demand: bool | None = None  #: None: the hub's staleness setting decides


def read_reading_query(envelope: Envelope) -> ReadingQuery:
    """Find the GetMeterReadings object in Request (or, leniently, in Payload) and read it."""
    query = _find_query(envelope)
    options = _options(envelope.request)
    start, end = _period(query, envelope.request)
    result = ReadingQuery(
        meters=_refs(query, "EndDevice") + _refs(query, "Meter"),
        usage_points=_refs(query, "UsagePoint"),
        reading_types=_reading_types(query),
        start=start,
        end=end,
        continuation=options.get(CONTINUATION_OPTION),
        raw=options.get(RAW_OPTION, "").lower() in ("true", "1", "yes"),
        as_of=_stamp(options.get(AS_OF_OPTION)),
        on_demand=_flag(options.get(ON_DEMAND_OPTION)),
    )
    if not result.meters and not result.usage_points:
        raise InvalidQueryError(
            "GetMeterReadings names no EndDevice and no UsagePoint",
            xpath="Request/GetMeterReadings",
        )
    if start is not None and end is not None and end <= start:
        raise InvalidQueryError(
            "the period ends before it starts", xpath="Request/GetMeterReadings"
        )
    return result


def _find_query(envelope: Envelope) -> etree._Element:
    for holder in (envelope.request, envelope.payload):
        if holder is None:
            continue
        if holder.tag == _t("GetMeterReadings"):
            return holder
        found = holder.find(_t("GetMeterReadings"))
        if found is not None:
            return found
    raise InvalidQueryError("no GetMeterReadings object in Request", xpath="Request")


def _local(request: etree._Element, local: str) -> list[etree._Element]:
    """Request children by local name: generic messages put them in the message namespace,
    strongly-typed Get… messages in their own."""
    return [c for c in request if isinstance(c.tag, str) and ns.split(c.tag)[1] == local]


def _options(request: etree._Element | None) -> dict[str, str]:
    if request is None:
        return {}
    return {
        (o.findtext(f"{{{_M}}}name") or "").strip(): (o.findtext(f"{{{_M}}}value") or "").strip()
        for o in _local(request, "Option")
    }


def _refs(query: etree._Element, local: str) -> list[MeterRef]:
    refs = []
    for el in query.iterfind(_t(local)):
        mrid = (el.findtext(_t("mRID")) or "").strip() or None
        names = tuple(n.strip() for n in el.xpath("g:Names/g:name/text()", namespaces={"g": GMR}))
        if mrid or names:
            refs.append(MeterRef(mrid, names))
    return refs


def _reading_types(query: etree._Element) -> list[str]:
    codes = []
    for el in query.iterfind(_t("ReadingType")):
        code = (
            el.get("ref") or el.findtext(_t("mRID")) or el.findtext(f"{_t('Names')}/{_t('name')}")
        )
        if code:
            codes.append(code.strip())
    return codes


def _period(query: etree._Element, request: etree._Element | None) -> tuple[int | None, int | None]:
    for path in ("Reading/timePeriod", "TimeSchedule/scheduleInterval"):
        el = query.find("/".join(_t(p) for p in path.split("/")))
        if el is not None:
            return _stamp(el.findtext(_t("start"))), _stamp(el.findtext(_t("end")))
    if request is not None:  # the envelope's own Request/StartTime and EndTime
        start, end = _local(request, "StartTime"), _local(request, "EndTime")
        return (_stamp(start[0].text) if start else None), (_stamp(end[0].text) if end else None)
    return None, None


def _flag(text: str | None) -> bool | None:
    if text is None or not text.strip():
        return None
    if text.strip().lower() in _YES + _NO:
        return text.strip().lower() in _YES
    raise InvalidQueryError(
        f"Option {ON_DEMAND_OPTION} is {text!r}: true or false", xpath="Request/Option"
    )


def _stamp(text: str | None) -> int | None:
    return to_epoch(text) if text and text.strip() else None


def write_reading_query(
    meter: MeterRef, period: Period | None, reading_types: Sequence[str] = ()
) -> etree._Element:
    """The GetMeterReadings object a head-end is asked to read with: the meter (mRID and
    names), its reading types (none: every one) and the period (start, end] as
    TimeSchedule/scheduleInterval."""
    b = Builder(GMR)
    root = etree.Element(b.q("GetMeterReadings"), nsmap={None: GMR})
    device = b.sub(root, "EndDevice")
    b.opt(device, "mRID", meter.mrid)
    for name in meter.names:
        b.name(device, name)
    for code in reading_types:
        etree.SubElement(root, b.q("ReadingType"), ref=code)
    if period is not None:
        interval = b.sub(b.sub(root, "TimeSchedule"), "scheduleInterval")
        b.sub(interval, "end", to_text(period.end))
        b.sub(interval, "start", to_text(period.start))
    return root
