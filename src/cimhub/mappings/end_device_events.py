"""EndDeviceEvents payloads ↔ domain Events, and GetEndDeviceEvents requests → EventQuery.

The vendor's own event code travels in EndDeviceEventDetails (``IS15959.EventID`` and
``IS15959.EventGroup``); it is kept beside the CIM code, and written back the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lxml import etree

from cimhub.domain.event import Event
from cimhub.domain.reading import MeterRef
from cimhub.errors import CimHubError, FunctionalError, InvalidQueryError
from cimhub.mappings.cim_object import Builder, tag, text
from cimhub.mappings.timestamp import to_epoch, to_text
from cimhub.message import ns
from cimhub.message.envelope import Envelope
from cimhub.message.reply import ReplyError

EDE = ns.payload_ns("EndDeviceEvents")
GEDE = ns.payload_ns("GetEndDeviceEvents")
VENDOR_CODE = "IS15959.EventID"
VENDOR_GROUP = "IS15959.EventGroup"
PRIORITY = "cimhub.priority"  #: written in replies; never read back as a vendor detail
_q = tag(EDE)


@dataclass(frozen=True, slots=True)
class EventItem:
    index: int
    event: Event

    @property
    def xpath(self) -> str:
        return f"/EndDeviceEvents/EndDeviceEvent[{self.index}]"


def read_end_device_events(payload: etree._Element) -> tuple[list[EventItem], list[ReplyError]]:
    """Map every EndDeviceEvent; a faulty one becomes an error, the rest go on."""
    items: list[EventItem] = []
    errors: list[ReplyError] = []
    for index, el in enumerate(payload.iterfind(_q("EndDeviceEvent")), 1):
        meter = _meter(el)
        try:
            items.append(EventItem(index, _event(el, meter)))
        except CimHubError as exc:
            where = f"/EndDeviceEvents/EndDeviceEvent[{index}]" + (
                f"/{exc.xpath}" if exc.xpath else ""
            )
            key = meter.key if meter else None
            errors.append(ReplyError(exc.code, exc.reason, xpath=where, object_id=key))
    return items, errors


def _meter(el: etree._Element) -> MeterRef | None:
    holder = el.find(_q("Assets"))
    if holder is None:
        holder = el.find(_q("EndDevice"))
    return _ref(holder, _q)


def _ref(el: etree._Element | None, q: Callable[[str], str]) -> MeterRef | None:
    if el is None:
        return None
    mrid = text(el, "mRID", q)
    names = tuple(
        n.strip()
        for n in el.xpath("*[local-name()='Names']/*[local-name()='name']/text()")
        if n.strip()
    )
    return MeterRef(mrid, names) if mrid or names else None


def _event(el: etree._Element, meter: MeterRef | None) -> Event:
    if meter is None:
        raise FunctionalError(
            "EndDeviceEvent names no meter (Assets mRID or Names)", xpath="Assets"
        )
    created = text(el, "createdDateTime", _q)
    if created is None:
        raise FunctionalError("EndDeviceEvent without createdDateTime", xpath="createdDateTime")
    type_el = el.find(_q("EndDeviceEventType"))
    event_type = None
    if type_el is not None:
        event_type = (type_el.get("ref") or "").strip() or text(type_el, "mRID", _q)
    details = _details(el)
    vendor = details.pop(VENDOR_CODE, None)
    if not event_type:
        if vendor is None:
            raise FunctionalError(
                "EndDeviceEvent without an EndDeviceEventType", xpath="EndDeviceEventType"
            )
        event_type = f"{VENDOR_CODE}={vendor}"  # unmapped, but never dropped
    up = _ref(el.find(_q("UsagePoint")), _q)
    return Event(
        meter=meter,
        created=to_epoch(created),
        event_type=event_type,
        severity=text(el, "severity", _q) or "",
        mrid=text(el, "mRID", _q),
        vendor_code=vendor,
        vendor_group=details.pop(VENDOR_GROUP, None),
        reason=text(el, "reason", _q) or "",
        usage_point=up.key if up else None,
        details=details,
    )


def _details(el: etree._Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for detail in el.iterfind(_q("EndDeviceEventDetails")):
        name, value = text(detail, "name", _q), text(detail, "value", _q)
        if name and value is not None and name != PRIORITY:
            out.setdefault(name, value)
    return out


def write_end_device_events(events: Iterable[Event]) -> etree._Element:
    """An EndDeviceEvents payload, children in the profile's order."""
    b = Builder(EDE)
    root = etree.Element(b.q("EndDeviceEvents"), nsmap={None: EDE})
    for event in events:
        el = b.sub(root, "EndDeviceEvent")
        b.opt(el, "mRID", event.mrid)
        b.sub(el, "createdDateTime", to_text(event.created))
        b.opt(el, "reason", event.reason)
        b.sub(el, "severity", event.effective_severity)
        assets = b.sub(el, "Assets")
        b.opt(assets, "mRID", event.meter.mrid)
        for name in event.meter.names:
            b.name(assets, name)
        details = {VENDOR_CODE: event.vendor_code, VENDOR_GROUP: event.vendor_group}
        details |= event.details | {PRIORITY: event.priority.value}
        for name, value in details.items():
            if value is not None:
                detail = b.sub(el, "EndDeviceEventDetails")
                b.sub(detail, "name", name)
                b.sub(detail, "value", value)
        etree.SubElement(el, b.q("EndDeviceEventType"), ref=event.event_type)
        if event.usage_point:
            b.sub(b.sub(el, "UsagePoint"), "mRID", event.usage_point)
    return root


@dataclass(frozen=True, slots=True)
class EventQuery:
    meters: list[MeterRef] = field(default_factory=list)
    event_types: list[str] = field(default_factory=list)
    start: int | None = None
    end: int | None = None
    continuation: str | None = None  # Request/Option "continuation": the next page


def read_event_query(envelope: Envelope) -> EventQuery:
    """The GetEndDeviceEvents object of Request (or, leniently, Payload)."""
    q = tag(GEDE)
    query = _find(envelope, q("GetEndDeviceEvents"))
    meters = [
        r
        for local in ("EndDevice", "Meter")
        for el in query.iterfind(q(local))
        if (r := _ref(el, q))
    ]
    types = [
        code.strip()
        for el in query.iterfind(q("EndDeviceEventType"))
        if (code := el.get("ref") or text(el, "mRID", q))
    ]
    interval = query.find(f"{q('TimeSchedule')}/{q('scheduleInterval')}")
    start, end = (_stamp(text(interval, "start", q)), _stamp(text(interval, "end", q)))
    if not meters:
        raise InvalidQueryError(
            "GetEndDeviceEvents names no Meter or EndDevice", xpath="Request/GetEndDeviceEvents"
        )
    if start is not None and end is not None and end <= start:
        raise InvalidQueryError(
            "the period ends before it starts", xpath="Request/GetEndDeviceEvents"
        )
    return EventQuery(meters, types, start, end, _continuation(envelope))


def _continuation(envelope: Envelope) -> str | None:
    """The value of the request's ``continuation`` Option (as GetMeterReadings pages)."""
    if envelope.request is None:
        return None
    for option in envelope.request:  # generic: message namespace; strongly typed: its own
        if not isinstance(option.tag, str) or ns.split(option.tag)[1] != "Option":
            continue
        fields = {ns.split(c.tag)[1]: (c.text or "").strip() for c in option
                  if isinstance(c.tag, str)}  # fmt: skip
        if fields.get("name") == "continuation":
            return fields.get("value") or None
    return None


def _find(envelope: Envelope, qname: str) -> etree._Element:
    for holder in (envelope.request, envelope.payload):
        if holder is None:
            continue
        if holder.tag == qname:
            return holder
        if (found := holder.find(qname)) is not None:
            return found
    raise InvalidQueryError("no GetEndDeviceEvents object in Request", xpath="Request")


def _stamp(value: str | None) -> int | None:
    return to_epoch(value) if value else None
