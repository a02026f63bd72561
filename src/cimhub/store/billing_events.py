"""Tamper and outage determinants per usage point from the stored EndDeviceEvents and
meter outages (issue #7 item 2), over the meters installed at each point in the period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import or_, select

from cimhub.billing.event_figures import (
    IS15959_TAMPER,
    TAMPER_TYPES,
    EventFigures,
    Window,
    is_tamper,
    outage_figures,
    tamper_count,
)
from cimhub.store.daily_aggregates import ROLES
from cimhub.store.event_models import EventRow, OutageRow
from cimhub.store.models import now as clock
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

T = TypeVar("T")


def event_figures(
    uow: UnitOfWork,
    tenant_id: int,
    usage_point_ids: Iterable[int],
    start: int,
    end: int,
    *,
    now: int | None = None,
) -> dict[int, EventFigures]:
    """Tamper count and outage count/minutes of each usage point over [start, end)."""
    windows = _windows(uow, tenant_id, usage_point_ids, start, end)
    meters = sorted({w.meter_id for ws in windows.values() for w in ws})
    if not meters:
        return {}
    tampers: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for meter_id, ts in _tamper_events(uow, tenant_id, meters, start, end):
        tampers[meter_id].append((meter_id, ts))
    outages: dict[int, list[tuple[int, int, int | None]]] = defaultdict(list)
    for outage in _outages(uow, tenant_id, meters, start, end):
        outages[outage[0]].append(outage)
    stamp = clock() if now is None else now
    out = {}
    for up_id, ws in windows.items():
        count, minutes = outage_figures(_of(outages, ws), ws, start, end, stamp)
        out[up_id] = EventFigures(tamper_count(_of(tampers, ws), ws, start, end), count, minutes)
    return out


def _of(by_meter: dict[int, list[T]], windows: Sequence[Window]) -> list[T]:
    return [row for m in {w.meter_id for w in windows} for row in by_meter.get(m, ())]


def _windows(
    uow: UnitOfWork, tenant_id: int, usage_point_ids: Iterable[int], start: int, end: int
) -> dict[int, list[Window]]:
    out: dict[int, list[Window]] = defaultdict(list)
    for stay in uow.installations.history(tenant_id, usage_point_ids=usage_point_ids):
        up_id = stay.site.usage_point_id
        if up_id is None or stay.role not in ROLES:
            continue
        if stay.start < end and (stay.end is None or stay.end > start):
            out[up_id].append(Window(stay.meter_id, stay.start, stay.end))
    return out


def _tamper_events(
    uow: UnitOfWork, tenant_id: int, meters: list[int], start: int, end: int
) -> list[tuple[int, int]]:
    """(meter id, ts) of the tamper events of these meters in [start, end)."""
    e, dialect = EventRow, uow.dialect
    stmt = select(e.meter_id, e.ts, e.event_type, e.mapped, e.vendor_code).where(
        e.tenant_id == tenant_id,
        member_of(e.meter_id, meters, dialect),
        or_(
            member_of(e.event_type, sorted(TAMPER_TYPES), dialect),
            member_of(e.vendor_code, sorted(IS15959_TAMPER), dialect),
        ),
        e.ts >= start,
        e.ts < end,
    )
    rows = uow.session.execute(stmt)
    return [(m, ts) for m, ts, code, mapped, vendor in rows if is_tamper(code, mapped, vendor)]


def _outages(
    uow: UnitOfWork, tenant_id: int, meters: list[int], start: int, end: int
) -> list[tuple[int, int, int | None]]:
    stmt = select(OutageRow.meter_id, OutageRow.start, OutageRow.end).where(
        OutageRow.tenant_id == tenant_id,
        member_of(OutageRow.meter_id, meters, uow.dialect),
        OutageRow.start < end,
        or_(OutageRow.end.is_(None), OutageRow.end > start),
    )
    return [(m, s, e) for m, s, e in uow.session.execute(stmt)]
