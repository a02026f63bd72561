"""Outages as VEE sees them: when a meter's outages count as known, and which they are.

**The rule.** A meter's outages are *known* once the store holds a power event
(3.26.0.85 / 3.26.0.216) of that meter, or of any meter of the same head-end (``Meter.hes``;
the head-end is then recorded in ``power_event_reporter``): such a head-end forwards power
events, so a meter of it without an outage row over a period had no outage then. For
any other meter "no outage rows" says nothing, and its context's outages stay None (the
zero-consumption rule stays quiet, estimation treats no interval as in an outage).

Both checks ride on the meters query VEE already makes (``known``), through the event
table's natural-key index and the reporter table's key; the outages themselves come in
one query for all the batch's meters (``outages``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, exists, or_, select

from cimhub.domain.event import POWER_OFF, POWER_ON
from cimhub.store.event_models import EventRow, OutageRow, PowerReporterRow
from cimhub.store.models import Meter
from cimhub.store.sql import insert_ignore, member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: The end VEE gives an outage still open (no restore yet): it lasts beyond any batch.
OPEN_END = 2**62
POWER = (POWER_OFF, POWER_ON)


def known(dialect: str) -> ColumnElement[bool]:
    """Whether the outages of the ``Meter`` row are known (see the module doc)."""
    own = exists().where(
        EventRow.tenant_id == Meter.tenant_id,
        EventRow.meter_id == Meter.id,
        member_of(EventRow.event_type, POWER, dialect),
    )
    by_hes = exists().where(
        PowerReporterRow.tenant_id == Meter.tenant_id, PowerReporterRow.hes == Meter.hes
    )
    return or_(own, by_hes)


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


def note_reporters(uow: UnitOfWork, tenant_id: int, meter_ids: Collection[int], at: int) -> None:
    """The head-ends of meters that just sent power events report them (first time kept)."""
    if not meter_ids:
        return
    heses = uow.session.scalars(
        select(Meter.hes)
        .where(
            Meter.tenant_id == tenant_id,
            member_of(Meter.id, meter_ids, uow.dialect),
            Meter.hes.is_not(None),
        )
        .distinct()
    ).all()
    if heses:
        stmt = insert_ignore(PowerReporterRow, uow.dialect, "tenant_id", "hes")
        uow.session.execute(
            stmt, [{"tenant_id": tenant_id, "hes": hes, "since": at} for hes in heses]
        )
