"""EndDeviceControls payloads ↔ domain Commands; status updates from head-ends.

One EndDeviceControl may address a group: several EndDevices, or EndDeviceGroups that list
their EndDevices (a group named without its members is refused: groups are not stored).
It becomes one command per meter, ``<control mRID>:<meter>`` when there are several, the
control's own mRID when one.
A control without an mRID gets a stable one from the message id and its position, so a
repeated message still maps to the same commands (idempotency is by command mRID).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from cimhub.domain.command import CONTROL_CODES, Command, CommandKind, State, parse_kind
from cimhub.domain.meter_read import Period
from cimhub.domain.reading import MeterRef
from cimhub.errors import CimHubError, InvalidValueError, PayloadError, UnknownObjectError
from cimhub.mappings.cim_object import Builder, tag, text
from cimhub.mappings.timestamp import to_epoch, to_text
from cimhub.message import ns
from cimhub.message.reply import ReplyError

EDC = ns.payload_ns("EndDeviceControls")
_q = tag(EDC)
_SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "m": 1e-3}
#: EndDeviceAction/command written for each kind.
ACTION_WORD = {
    CommandKind.CONNECT: "connect",
    CommandKind.DISCONNECT: "disconnect",
    CommandKind.READ: "read",
    CommandKind.LOAD_LIMIT: "setLoadLimit",
    CommandKind.TIME_SYNC: "timeSync",
    CommandKind.MD_RESET: "demandReset",
    CommandKind.PREPAID_MODE: "switchToPrepaid",
    CommandKind.POSTPAID_MODE: "switchToPostpaid",
}


@dataclass(frozen=True, slots=True)
class ControlItem:
    """One (control, meter) of a payload: what a command is made from, or a status update."""

    index: int
    mrid: str
    control_type: str
    action: str | None
    meter: MeterRef
    reason: str
    demand_limit_w: float | None
    status: str | None
    status_at: int | None
    status_reason: str
    period: Period | None = None  #: scheduledInterval: what a read asks for

    @property
    def xpath(self) -> str:
        return f"/EndDeviceControls/EndDeviceControl[{self.index}]"


def read_end_device_controls(
    payload: etree._Element, message_id: str | None
) -> tuple[list[ControlItem], list[ReplyError]]:
    """Every (control, meter) pair; a faulty control becomes an error, the rest go on."""
    items: list[ControlItem] = []
    errors: list[ReplyError] = []
    for index, el in enumerate(payload.iterfind(_q("EndDeviceControl")), 1):
        try:
            items.extend(_control(index, el, message_id))
        except CimHubError as exc:
            where = f"/EndDeviceControls/EndDeviceControl[{index}]"
            xpath = f"{where}/{exc.xpath or ''}".rstrip("/")
            errors.append(ReplyError(exc.code, exc.reason, xpath=xpath, object_id=exc.object_id))
    return items, errors


def _control(index: int, el: etree._Element, message_id: str | None) -> list[ControlItem]:
    type_el = el.find(_q("EndDeviceControlType"))
    code = ""
    if type_el is not None:
        code = (type_el.get("ref") or "").strip() or (text(type_el, "mRID", _q) or "")
    action = text(el, "EndDeviceAction/command", _q)
    parse_kind(code, action)  # refuse an unsupported control early, with its xpath
    meters = [m for d in el.iterfind(_q("EndDevices")) if (m := _meter(d))]
    for number, group in enumerate(el.iterfind(_q("EndDeviceGroups")), 1):
        members = [m for d in group.iterfind(_q("EndDevices")) if (m := _meter(d))]
        if not members:  # a group by name alone: the hub keeps no stored groups
            key = _meter(group)
            name = key.key if key else f"#{number}"
            raise UnknownObjectError(
                f"unknown EndDeviceGroup {name!r}: list the group's EndDevices in it",
                xpath=f"EndDeviceGroups[{number}]",
                object_id=name,
            )
        meters += members
    if not meters:
        raise PayloadError("EndDeviceControl names no EndDevices", xpath="EndDevices")
    base = text(el, "mRID", _q) or str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"cimhub-control-{message_id}-{index}")
    )
    status = el.find(_q("status"))
    when = text(status, "dateTime", _q)
    return [
        ControlItem(
            index=index,
            mrid=base if len(meters) == 1 else f"{base}:{meter.key}",
            control_type=code,
            action=action,
            meter=meter,
            reason=text(el, "reason", _q) or "",
            demand_limit_w=_limit(el.find(_q("demandLimit"))),
            status=text(status, "value", _q),
            status_at=to_epoch(when) if when else None,
            status_reason=text(status, "reason", _q) or text(status, "remark", _q) or "",
            period=_period(el.find(_q("scheduledInterval"))),
        )
        for meter in meters
    ]


def _period(el: etree._Element | None) -> Period | None:
    """scheduledInterval as a period (start, end]; both ends or none."""
    if el is None:
        return None
    start, end = text(el, "start", _q), text(el, "end", _q)
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise InvalidValueError(
            "scheduledInterval needs both start and end", xpath="scheduledInterval"
        )
    period = Period(to_epoch(start), to_epoch(end))
    if period.end <= period.start:
        raise InvalidValueError(
            "scheduledInterval ends before it starts", xpath="scheduledInterval"
        )
    return period


def _meter(el: etree._Element) -> MeterRef | None:
    mrid = text(el, "mRID", _q)
    names = tuple(
        n.strip()
        for n in el.xpath("*[local-name()='Names']/*[local-name()='name']/text()")
        if n.strip()
    )
    return MeterRef(mrid, names) if mrid or names else None


def _limit(el: etree._Element | None) -> float | None:
    if el is None:
        return None
    value = text(el, "value", _q)
    scale = _SCALE.get(text(el, "multiplier", _q) or "")
    unit = (text(el, "unit", _q) or "W").strip()
    if value is None or scale is None or unit != "W":
        raise InvalidValueError("demandLimit must be a value in W, kW or MW", xpath="demandLimit")
    return float(value) * scale


def write_end_device_controls(
    commands: Iterable[Command], *, with_status: bool = True
) -> etree._Element:
    """An EndDeviceControls payload, one control per command, children in profile order."""
    b = Builder(EDC)
    root = etree.Element(b.q("EndDeviceControls"), nsmap={None: EDC})
    for command in commands:
        el = b.sub(root, "EndDeviceControl")
        b.sub(el, "mRID", command.mrid)
        b.opt(el, "issuerID", command.source)
        b.opt(el, "reason", command.reason or None)
        if command.demand_limit_w is not None:
            limit = b.sub(el, "demandLimit")
            b.sub(limit, "value", command.demand_limit_w)
            b.sub(limit, "unit", "W")
        b.sub(b.sub(el, "EndDeviceAction"), "command", ACTION_WORD[command.kind])
        etree.SubElement(el, b.q("EndDeviceControlType"), ref=CONTROL_CODES[command.kind])
        device = b.sub(el, "EndDevices")
        b.opt(device, "mRID", command.meter.mrid)
        for name in command.meter.names:
            b.name(device, name)
        if command.period is not None:
            interval = b.sub(el, "scheduledInterval")
            b.sub(interval, "end", to_text(command.period.end))
            b.sub(interval, "start", to_text(command.period.start))
        if with_status and command.history:
            last = command.history[-1]
            status = b.sub(el, "status")
            b.sub(status, "dateTime", to_text(last.at))
            if last.reason:
                b.sub(status, "reason", last.reason)
            b.sub(status, "remark", f"by {last.actor}")
            b.sub(status, "value", last.state.value)
    return root


def status_state(item: ControlItem) -> State | None:
    """The state a head-end's status update reports (None: no status in the control)."""
    from cimhub.domain.command import parse_status

    return parse_status(item.status) if item.status else None
