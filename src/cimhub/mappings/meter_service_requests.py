"""MeterServiceRequests payloads ↔ service orders: the field work the hub sends a WFM as a
MeterServiceWork, and the WFM's reports on that work (its mRID and status) read back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from cimhub.errors import CimHubError, InvalidValueError
from cimhub.mappings.cim_object import Builder, tag, text
from cimhub.message import ns
from cimhub.message.reply import ReplyError

MSR = ns.payload_ns("MeterServiceRequests")
_q = tag(MSR)


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """A service order as the WFM receives it."""

    mrid: str
    kind: str  # CIM WorkKind, e.g. inspection
    priority: str  # the exception's severity
    requested: int
    type: str  # the rule that opened it, e.g. tamper.cover_open
    reason: str
    first_at: int
    last_at: int
    meter: str
    status: str
    status_at: int


@dataclass(frozen=True, slots=True)
class WorkReport:
    """What the WFM reports on one order: its status word (None: none given) and why."""

    index: int  # of its MeterServiceWork in the payload, from 1 (for the reply's xpath)
    mrid: str
    status: str | None
    note: str


def write_service_work(orders: Iterable[WorkOrder]) -> etree._Element:
    """A MeterServiceRequests payload, children in the profile's order."""
    b = Builder(MSR)
    root = etree.Element(b.q("MeterServiceRequests"), nsmap={None: MSR})
    for order in orders:
        work = b.sub(root, "MeterServiceWork")
        b.sub(work, "mRID", order.mrid)
        b.sub(work, "kind", order.kind)
        b.sub(work, "priority", order.priority)
        b.sub(work, "requestDateTime", b.stamp(order.requested))
        b.sub(work, "type", order.type)
        occurrences = [(order.first_at, "first occurrence")]
        if order.last_at != order.first_at:
            occurrences.append((order.last_at, "last occurrence"))
        for at, what in occurrences:
            record = b.sub(work, "ActivityRecords")
            b.sub(record, "createdDateTime", b.stamp(at))
            b.sub(record, "reason", order.reason)
            b.sub(record, "severity", order.priority)
            b.sub(record, "type", what)
        b.sub(b.sub(work, "Meter"), "mRID", order.meter)
        status = b.sub(work, "status")
        b.sub(status, "dateTime", b.stamp(order.status_at))
        b.sub(status, "value", order.status)
    return root


def read_service_work(payload: etree._Element) -> tuple[list[WorkReport], list[ReplyError]]:
    """Every MeterServiceWork reported on; one without an mRID becomes an error of its own,
    the rest go on."""
    reports: list[WorkReport] = []
    errors: list[ReplyError] = []
    for index, el in enumerate(payload.iterfind(_q("MeterServiceWork")), 1):
        try:
            reports.append(_report(index, el))
        except CimHubError as exc:
            errors.append(ReplyError(exc.code, exc.reason, xpath=work_xpath(index)))
    return reports, errors


def work_xpath(index: int) -> str:
    return f"/MeterServiceRequests/MeterServiceWork[{index}]"


def _report(index: int, el: etree._Element) -> WorkReport:
    mrid = text(el, "mRID", _q)
    if mrid is None:
        raise InvalidValueError("a MeterServiceWork without the mRID of its service order")
    note = "; ".join(t for t in (text(el, "status/reason", _q), text(el, "status/remark", _q)) if t)
    return WorkReport(index, mrid, text(el, "status/value", _q), note)
