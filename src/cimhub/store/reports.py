"""Master-data reports: meter inventory by lifecycle stage and make; meters installed but
not communicating for N days (seed 002 §2.4.2 b, the reconciliation report)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, exists, func, or_, select

from cimhub.domain.lifecycle import IN_FIELD, Stage
from cimhub.store.master_models import Installation, UsagePoint
from cimhub.store.models import IntervalReading, Meter, RegisterReading
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

DAY = 86_400
M = cast(Table, Meter.__table__)
INST = cast(Table, Installation.__table__)
U = cast(Table, UsagePoint.__table__)
READING_TABLES = (cast(Table, IntervalReading.__table__), cast(Table, RegisterReading.__table__))
#: Stages of a meter that should be sending data (faulty ones are expected not to).
EXPECTED_TO_COMMUNICATE = sorted(s.value for s in IN_FIELD - {Stage.FAULTY})


@dataclass(frozen=True, slots=True)
class Report:
    columns: list[str]
    rows: list[dict[str, Any]]
    summary: dict[str, Any]


def meter_inventory(uow: UnitOfWork, tenant_id: int) -> Report:
    """Active meter records counted by lifecycle stage and make."""
    stmt = (
        select(M.c.lifecycle_stage, M.c.make, func.count())
        .where(M.c.tenant_id == tenant_id, M.c.record_status == "active")
        .group_by(M.c.lifecycle_stage, M.c.make)
        .order_by(M.c.lifecycle_stage, M.c.make)
    )
    rows = [
        {"lifecycle_stage": stage, "make": make or "", "meters": count}
        for stage, make, count in uow.session.execute(stmt).all()
    ]
    by_stage: dict[str, int] = {}
    by_make: dict[str, int] = {}
    for row in rows:
        by_stage[row["lifecycle_stage"]] = by_stage.get(row["lifecycle_stage"], 0) + row["meters"]
        by_make[row["make"]] = by_make.get(row["make"], 0) + row["meters"]
    summary = {"total": sum(by_stage.values()), "by_stage": by_stage, "by_make": by_make}
    return Report(["lifecycle_stage", "make", "meters"], rows, summary)


def not_communicating(uow: UnitOfWork, tenant_id: int, *, days: int, as_of: int) -> Report:
    """Installed meters (stage installed / commissioned / in service, with an open
    installation) with no reading stamped in (as_of − days, as_of]."""
    since = as_of - days * DAY
    heard = or_(
        *(
            exists().where(
                t.c.tenant_id == tenant_id, t.c.meter_id == M.c.id, t.c.ts > since, t.c.ts <= as_of
            )
            for t in READING_TABLES
        )
    )
    installed = and_(INST.c.meter_id == M.c.id, INST.c.end_ts.is_(None), INST.c.canceled.is_(False))
    stmt = (
        select(
            M.c.id,
            M.c.mrid,
            M.c.serial_number,
            M.c.make,
            M.c.hes,
            M.c.lifecycle_stage,
            U.c.mrid.label("usage_point"),
            INST.c.start_ts.label("installed_since"),
        )
        .select_from(M.join(INST, installed).outerjoin(U, U.c.id == INST.c.usage_point_id))
        .where(
            M.c.tenant_id == tenant_id,
            M.c.record_status == "active",
            M.c.lifecycle_stage.in_(EXPECTED_TO_COMMUNICATE),
            INST.c.start_ts <= since,  # installed long enough to have been heard from
            ~heard,
        )
        .order_by(M.c.mrid)
    )
    rows = [dict(r._mapping) for r in uow.session.execute(stmt).all()]
    last = _last_readings(uow, tenant_id, [r["id"] for r in rows], as_of)
    for row in rows:
        ts = last.get(row.pop("id"))
        row["last_reading"] = ts
        row["days_silent"] = None if ts is None else (as_of - ts) // DAY
    columns = [
        "mrid",
        "serial_number",
        "make",
        "hes",
        "lifecycle_stage",
        "usage_point",
        "installed_since",
        "last_reading",
        "days_silent",
    ]
    installed_count = uow.session.execute(
        select(func.count())
        .select_from(M.join(INST, installed))
        .where(
            M.c.tenant_id == tenant_id,
            M.c.record_status == "active",
            M.c.lifecycle_stage.in_(EXPECTED_TO_COMMUNICATE),
        )
    ).scalar_one()
    summary = {
        "days": days,
        "as_of": as_of,
        "installed": installed_count,
        "not_communicating": len(rows),
        "communicating": installed_count - len(rows),
    }
    return Report(columns, rows, summary)


def _last_readings(
    uow: UnitOfWork, tenant_id: int, meter_ids: list[int], as_of: int
) -> dict[int, int]:
    """The latest reading ts at or before ``as_of`` of each meter (any reading table)."""
    if not meter_ids:
        return {}
    last: dict[int, int] = {}
    for t in READING_TABLES:
        stmt = (
            select(t.c.meter_id, func.max(t.c.ts))
            .where(
                t.c.tenant_id == tenant_id,
                t.c.ts <= as_of,
                member_of(t.c.meter_id, meter_ids, uow.dialect),
            )
            .group_by(t.c.meter_id)
        )
        for meter_id, ts in uow.session.execute(stmt).all():
            last[meter_id] = max(ts, last.get(meter_id, ts))
    return last
