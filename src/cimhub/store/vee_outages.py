"""Outages as VEE sees them: from when a meter's outages count as known, and which they are.

**The rule.** A meter's outages are *known* from the first power event (3.26.0.85 /
3.26.0.216) the store holds of that meter, or of any meter of the same head-end
(``Meter.hes``; the head-end is then recorded in ``power_event_reporter`` with the time of
the earliest power event it sent, ``since``): such a head-end forwards power events, so a
meter of it without an outage row over a period after that time had no outage then.
Before that time — and for any other meter — "no outage rows" says nothing: the context
says from when outages are known (``outages_since``), its outages are None when they are
not known at all in the period, the zero-consumption rule does not judge the intervals
before, and estimation treats none of them as in an outage. The time is the events' own
(createdDateTime), not when they arrived: a head-end that sends a power event of last
Tuesday shows it reports them as of last Tuesday.

The known-from times ride on the meters query VEE already makes (``known_since``): the
meter's own first power-off and first power-on through the event table's natural-key
index, its head-end's ``since`` through the reporter table's key; the outages themselves
come in one query for all the batch's meters (``outages``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ScalarSelect, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from cimhub.domain.event import POWER_OFF, POWER_ON
from cimhub.store.event_models import EventRow, OutageRow, PowerReporterRow
from cimhub.store.models import Meter
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: The end VEE gives an outage still open (no restore yet): it lasts beyond any batch.
OPEN_END = 2**62
POWER = (POWER_OFF, POWER_ON)


def known_since() -> tuple[ScalarSelect[Any], ...]:
    """For the ``Meter`` row: its first power-off, its first power-on, and its head-end's
    ``since`` (each None when there is none); outages are known from the earliest."""
    own = [
        select(func.min(EventRow.ts))
        .where(
            EventRow.tenant_id == Meter.tenant_id,
            EventRow.meter_id == Meter.id,
            EventRow.event_type == code,
        )
        .scalar_subquery()
        for code in POWER  # one index probe each (a range over both would scan them all)
    ]
    by_hes = (
        select(PowerReporterRow.since)
        .where(PowerReporterRow.tenant_id == Meter.tenant_id, PowerReporterRow.hes == Meter.hes)
        .scalar_subquery()
    )
    return (*own, by_hes)


def earliest(*times: int | None) -> int | None:
    """The earliest of the times given, None when there is none.

    >>> earliest(None, 300, 120), earliest(None, None)
    (120, None)
    """
    present = [t for t in times if t is not None]
    return min(present) if present else None


def outages(
    uow: UnitOfWork, tenant_id: int, meter_ids: Collection[int], start: int, end: int
) -> dict[int, list[tuple[int, int]]]:
    """The outages of these meters overlapping (start, end], as (start, end] pairs, oldest
    first; an open one ends at ``OPEN_END``."""
    if not meter_ids:
        return {}
    o = OutageRow
    rows = uow.session.execute(
        select(o.meter_id, o.start, o.end)
        .where(
            o.tenant_id == tenant_id,
            member_of(o.meter_id, meter_ids, uow.dialect),
            o.start < end,
            or_(o.end.is_(None), o.end > start),
        )
        .order_by(o.meter_id, o.start)
    )
    found: dict[int, list[tuple[int, int]]] = {}
    for meter_id, first, last in rows:
        found.setdefault(meter_id, []).append((first, OPEN_END if last is None else last))
    return found


def contexts_outages(
    known_meters: Collection[int], found: Mapping[int, Sequence[tuple[int, int]]], meter: int
) -> tuple[tuple[int, int], ...] | None:
    """One meter's outages for its VEE context: None unless they are known."""
    return tuple(found.get(meter, ())) if meter in known_meters else None


def note_reporters(uow: UnitOfWork, tenant_id: int, firsts: Mapping[int, int]) -> None:
    """The head-ends of meters that sent power events (meter id → its earliest power
    event's time) report them from the earliest of those times on; a head-end already
    known keeps the earlier of its time and these."""
    if not firsts:
        return
    rows = uow.session.execute(
        select(Meter.id, Meter.hes).where(
            Meter.tenant_id == tenant_id,
            member_of(Meter.id, list(firsts), uow.dialect),
            Meter.hes.is_not(None),
        )
    )
    since: dict[str, int] = {}
    for meter_id, hes in rows:
        since[hes] = min(firsts[meter_id], since.get(hes, firsts[meter_id]))
    if since:
        values = [{"tenant_id": tenant_id, "hes": hes, "since": at} for hes, at in since.items()]
        uow.session.execute(_keep_earliest(uow.dialect), values)


def _keep_earliest(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE SET since = the earlier of the two``."""
    table = PowerReporterRow.__table__
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
        earlier = func.least(table.c.since, stmt.excluded.since)
    else:
        stmt = sqlite.insert(table)
        earlier = func.min(table.c.since, stmt.excluded.since)
    return stmt.on_conflict_do_update(index_elements=["tenant_id", "hes"], set_={"since": earlier})
