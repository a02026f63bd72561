"""The billing run: a cycle's determinants per usage point summed from the daily
aggregates (a summation, not a rescan), register-based usage, bill-readiness, and the
stored results that REST, CSV, GetMeterReadings and the export read."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select

from cimhub.billing.channel import MILLI, Channel
from cimhub.billing.config import BillingConfig
from cimhub.billing.cycle import Cycle, day_number, parse_cycle
from cimhub.billing.daily import Day
from cimhub.billing.determinants import Determinants, combine, with_events
from cimhub.billing.readiness import judge, unmetered
from cimhub.billing.register import RegisterSegment, register_usage
from cimhub.domain.installation import KWH_REGISTER, Role
from cimhub.domain.meter import multiplier
from cimhub.domain.reading import ReadingKind
from cimhub.store.assessments import assessed_days, assessed_kwh
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.billing_events import event_figures
from cimhub.store.billing_models import BillingDaily, BillingDeterminant
from cimhub.store.bulk import insert_rows
from cimhub.store.daily_aggregates import ROLES, aggregate
from cimhub.store.findings import TABLE as FINDINGS
from cimhub.store.master_models import UsagePoint
from cimhub.store.models import now as clock
from cimhub.store.sql import member_of
from cimhub.store.validated import CURRENT

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

D = BillingDaily.__table__
R = BillingDeterminant.__table__
U = UsagePoint.__table__


@dataclass(slots=True)
class CycleResult:
    cycle: str
    start: int
    end: int
    usage_points: int = 0
    ready: int = 0
    held: dict[str, str] = field(default_factory=dict)  #: usage point mRID → reason


def run_cycle(
    uow: UnitOfWork, tenant_id: int, name: str, *, reaggregate: bool = False
) -> CycleResult:
    """Compute and store the determinants of every usage point of the tenant for cycle
    ``name`` ('YYYY-MM'); ``reaggregate`` rebuilds the daily aggregates first (after a
    configuration change or a VEE re-run)."""
    config = BillingConfigs(uow).current(tenant_id)
    cycle = parse_cycle(name, config.cycle_day)
    start, end = cycle.bounds(config.zone)
    if reaggregate:
        reaggregate_period(uow, tenant_id, config, cycle)
    days = _daily_rows(uow, tenant_id, cycle)
    points = _points(uow, tenant_id)
    registers = _register_usage(uow, tenant_id, start, end)
    exceptions = _open_exceptions(uow, tenant_id, start, end)
    events = event_figures(uow, tenant_id, set(points), start, end)
    assessed = assessed_kwh(uow, tenant_id, start, end)
    covered = assessed_days(uow, tenant_id, start, end, _meter_removed(points, assessed))
    result, rows, stamp = CycleResult(name, start, end), [], clock()
    for up_id, info in points.items():
        d = combine(days.get(up_id, []), subtract_check=config.subtract_check_meters)
        if up_id in events:
            with_events(d, events[up_id].as_dict())
        extra = _with_assessed(d, assessed.get(up_id))
        info["assessed"] = bool(extra)
        info["assessed_days"] = covered.get(up_id, ())
        summary, ready, reason = _judge(d, info, config, cycle, start, end, exceptions)
        summary |= extra
        summary["register_kwh"] = registers.get(up_id)
        summary["meter_id"] = info.get("main")
        rows.append(_row(tenant_id, name, up_id, start, end, ready, reason, summary, stamp))
        result.usage_points += 1
        result.ready += ready
        if not ready:
            result.held[info["mrid"]] = reason
    uow.session.execute(delete(R).where(R.c.tenant_id == tenant_id, R.c.cycle == name))
    insert_rows(uow, R, rows)
    return result


def _judge(
    d: Determinants,
    info: dict[str, Any],
    config: BillingConfig,
    cycle: Cycle,
    start: int,
    end: int,
    exceptions: dict[int, int],
) -> tuple[dict[str, Any], bool, str]:
    if not info["metered"]:  # its assessed days (see store.assessments) are its usage
        summary = d.summary() | {"estimated": "non-metered: assessed load × hours × factor"}
        if not info["assessed"]:
            return summary, False, "no assessed consumption (cimhub vee non-metered)"
        return summary, True, ""
    interval = d.interval or 900
    expected = (end - start) // interval
    open_exceptions = sum(exceptions.get(m, 0) for m in info.get("meters", ()))
    gaps = unmetered(start, end, info.get("spans", ()), info["assessed_days"], interval)
    verdict = judge(d, expected, open_exceptions, config.readiness, gaps)
    summary = d.summary() | {
        "estimated_pct": verdict.estimated_pct,
        "missing_pct": verdict.missing_pct,
        "open_exceptions": verdict.open_exceptions,
        "payment_mode": info["payment_mode"],
        "net_metering": info["net_metering"],
        "days": len(list(cycle.days())),
        "demand_seconds": config.demand_seconds(info["tariff_code"]),
    }
    return summary, verdict.ready, verdict.reason


def _with_assessed(d: Determinants, found: tuple[float, int] | None) -> dict[str, Any]:
    """A point's assessed days (no working meter) add to its import energy."""
    if found is None:
        return {}
    kwh, days = found
    d.energy[Channel.KWH_IMPORT] += round(kwh * MILLI)
    return {"assessed_kwh": round(kwh, 6), "assessed_days": days}


def _meter_removed(points: dict[int, dict[str, Any]], assessed: dict[int, Any]) -> set[int]:
    """Metered points with assessed days: their main meter was away for a while."""
    return {i for i in assessed if points.get(i, {}).get("metered") is not False}


def _row(
    tenant_id: int,
    cycle: str,
    up_id: int,
    start: int,
    end: int,
    ready: bool,
    reason: str,
    summary: dict[str, Any],
    stamp: int,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "cycle": cycle,
        "usage_point_id": up_id,
        "period_start": start,
        "period_end": end,
        "ready": ready,
        "reason": reason,
        "data": json.dumps(summary, separators=(",", ":")),
        "computed_at": stamp,
    }


def _daily_rows(uow: UnitOfWork, tenant_id: int, cycle: Cycle) -> dict[int, list[tuple[str, Day]]]:
    stmt = (
        select(D.c.usage_point_id, D.c.role, D.c.data)
        .where(
            D.c.tenant_id == tenant_id,
            D.c.day >= day_number(cycle.first),
            D.c.day < day_number(cycle.end),
        )
        .order_by(D.c.usage_point_id, D.c.day, D.c.meter_id)
    )
    out: dict[int, list[tuple[str, Day]]] = defaultdict(list)
    for up_id, role, data in uow.session.execute(stmt):
        out[up_id].append((role, Day.from_data(json.loads(data))))
    return out


def _points(uow: UnitOfWork, tenant_id: int) -> dict[int, dict[str, Any]]:
    cols = ("id", "mrid", "tariff_code", "category", "payment_mode", "net_metering", "metered",
            "connected_load_kw", "operating_hours")  # fmt: skip
    stmt = select(*(U.c[c] for c in cols)).where(
        U.c.tenant_id == tenant_id, U.c.record_status == "active"
    )
    points = {row.id: dict(row._mapping) for row in uow.session.execute(stmt)}
    for stay in uow.installations.history(tenant_id, usage_point_ids=set(points)):
        if stay.site.usage_point_id in points and stay.role in ROLES:
            point = points[stay.site.usage_point_id]
            point.setdefault("meters", []).append(stay.meter_id)
            if stay.role is Role.MAIN:
                point["main"] = stay.meter_id  # the latest main meter names it in exports
                end = stay.end if stay.end is not None else 2**62
                point.setdefault("spans", []).append((stay.start, end))
    return points


def _open_exceptions(uow: UnitOfWork, tenant_id: int, start: int, end: int) -> dict[int, int]:
    """Uncleared VEE findings per meter overlapping the period."""
    c = FINDINGS.c
    stmt = (
        select(c.meter_id, func.count())
        .where(
            c.tenant_id == tenant_id,
            c.cleared_at.is_(None),
            c.last_ts > start,
            c.first_ts <= end,
            c.severity != "info",
        )
        .group_by(c.meter_id)
    )
    return {m: n for m, n in uow.session.execute(stmt)}


def _register_usage(uow: UnitOfWork, tenant_id: int, start: int, end: int) -> dict[int, float]:
    """kWh from validated cumulative register reads, per usage point, over (start, end]."""
    type_id = uow.reading_types.find_ids([KWH_REGISTER]).get(KWH_REGISTER)
    if type_id is None:
        return {}
    c = CURRENT.c
    stmt = (
        select(c.meter_id, c.ts, c.value)
        .where(
            c.tenant_id == tenant_id,
            c.reading_type_id == type_id,
            c.kind == ReadingKind.REGISTER.value,
            c.ts > start - 35 * 86_400,  # the previous bill-period read
            c.ts <= end,
        )
        .order_by(c.meter_id, c.ts)
    )
    reads: dict[int, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    for meter, ts, value in uow.session.execute(stmt):
        reads[meter][0].append(ts)
        reads[meter][1].append(value)
    if not reads:
        return {}
    meters = uow.meter_assets.rows(tenant_id, set(reads))
    segments: dict[int, list[RegisterSegment]] = defaultdict(list)
    for stay in uow.installations.history(tenant_id, meter_ids=set(reads)):
        up_id = stay.site.usage_point_id
        if up_id is None or stay.role is not Role.MAIN or stay.meter_id not in meters:
            continue
        m = meters[stay.meter_id]
        stamps, values = reads[stay.meter_id]
        factor = multiplier(m.ct_ratio, m.pt_ratio)
        segment = RegisterSegment(stay.meter, stay.start, stay.end, stamps, values, factor, m.dials)
        segments[up_id].append(segment)
    return {up: register_usage(segs, start, end).total for up, segs in segments.items()}


def reaggregate_period(uow: UnitOfWork, tenant_id: int, config: BillingConfig, cycle: Cycle) -> int:
    """Rebuild the daily aggregates of every meter at a usage point over the cycle."""
    start, end = cycle.bounds(config.zone)
    stays = [
        s
        for s in uow.installations.history(tenant_id, usage_point_ids=set(_points(uow, tenant_id)))
        if s.role in ROLES and s.start < end and (s.end is None or s.end > start)
    ]
    if not stays:
        return 0
    days = set(cycle.days())
    return aggregate(uow, tenant_id, config, stays, {s.meter_id: days for s in stays})


def determinants(
    uow: UnitOfWork,
    tenant_id: int,
    *,
    cycle: str | None = None,
    usage_point_ids: Sequence[int] | None = None,
    ended_after: int | None = None,
    ended_by: int | None = None,
) -> list[dict[str, Any]]:
    """Stored determinants, with the usage point's mRID and consumer number."""
    stmt = (
        select(R, U.c.mrid, U.c.consumer_number)
        .join(U, U.c.id == R.c.usage_point_id)
        .where(R.c.tenant_id == tenant_id)
        .order_by(R.c.period_end, U.c.mrid)
    )
    if cycle is not None:
        stmt = stmt.where(R.c.cycle == cycle)
    if usage_point_ids is not None:
        stmt = stmt.where(member_of(R.c.usage_point_id, usage_point_ids, uow.dialect))
    if ended_after is not None:
        stmt = stmt.where(R.c.period_end > ended_after)
    if ended_by is not None:
        stmt = stmt.where(R.c.period_end <= ended_by)
    out = []
    for row in uow.session.execute(stmt):
        item = dict(row._mapping)
        item["data"] = json.loads(item["data"])
        out.append(item)
    return out


def month_to_date(
    uow: UnitOfWork, tenant_id: int, up_id: int, cycle: Cycle, zone: ZoneInfo
) -> Determinants:
    """The running determinants of a usage point from its daily aggregates so far, with
    its tamper and outage figures up to now."""
    days = _daily_rows(uow, tenant_id, cycle)
    d = combine(days.get(up_id, []))
    start, end = cycle.bounds(zone)
    events = event_figures(uow, tenant_id, [up_id], start, end)
    return with_events(d, events[up_id].as_dict()) if up_id in events else d
