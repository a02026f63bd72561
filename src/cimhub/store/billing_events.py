"""Tamper and outage determinants per usage point from the stored EndDeviceEvents and
meter outages (issue #7 item 2), over the meters installed at each point in the period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from cimhub.billing.event_figures import (
    TAMPER_TYPES,
    EventFigures,
    Window,
    outage_figures,
    tamper_count,
)
from cimhub.store.daily_aggregates import ROLES
from cimhub.store.event_models import EventRow, OutageRow
from cimhub.store.models import now as clock
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


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
    events = _tamper_events(uow, tenant_id, meters, start, end)
    outages = _outages(uow, tenant_id, meters, start, end)
    stamp = clock() if now is None else now
    out = {}
    for up_id, ws in windows.items():
        mine = {w.meter_id for w in ws}
        count, minutes = outage_figures([o for o in outages if o[0] in mine], ws, start, end, stamp)
        tampers = tamper_count([e for e in events if e[0] in mine], ws, start, end)
        out[up_id] = EventFigures(tampers, count, minutes)
    return out


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
) -> list[tuple[int, str, int]]:
    dialect = uow.dialect
    stmt = select(EventRow.meter_id, EventRow.event_type, EventRow.ts).where(
        EventRow.tenant_id == tenant_id,
        member_of(EventRow.meter_id, meters, dialect),
        member_of(EventRow.event_type, sorted(TAMPER_TYPES), dialect),
        EventRow.ts >= start,
        EventRow.ts < end,
    )
    return [(m, t, ts) for m, t, ts in uow.session.execute(stmt)]


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
