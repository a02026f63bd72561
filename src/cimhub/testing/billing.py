"""Billing test factories: usage points with installed meters, validated intervals and
registers written straight to the store (the store's bulk paths), for determinant tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cimhub.domain.installation import Installation, Role, Site
from cimhub.domain.reading import MeterRef
from cimhub.store.bulk import insert_rows
from cimhub.store.database import Database
from cimhub.store.master_models import UsagePoint
from cimhub.store.unit_of_work import UnitOfWork
from cimhub.store.validated import Row, ValidatedRepository

KWH_15 = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
KWH_EXPORT_15 = "0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.3.72.0"
KVAH_15 = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.71.0"


@dataclass(frozen=True, slots=True)
class Stay:
    usage_point: str
    meter: str
    start: int
    end: int | None = None
    role: Role = Role.MAIN


def add_usage_points(
    uow: UnitOfWork, tenant_id: int, mrids: Sequence[str], *, tariff: str | None = None,
    category: str | None = "residential", **columns: object,
) -> dict[str, int]:  # fmt: skip
    """Insert usage points in bulk; returns mRID → id."""
    insert_rows(
        uow,
        UsagePoint.__table__,  # type: ignore[arg-type]
        [
            {
                "tenant_id": tenant_id,
                "mrid": m,
                "consumer_number": m,
                "category": category,
                "tariff_code": tariff,
                "metered": True,
                "record_status": "active",
                "created_at": 0,
                **columns,
            }
            for m in mrids
        ],
    )
    found = uow.usage_points.match(tenant_id, set(mrids), narrow=True)
    return {m: found[m].id for m in mrids}


def install(uow: UnitOfWork, tenant_id: int, stays: Sequence[Stay]) -> dict[str, int]:
    """Meters (auto-registered) installed at usage points; returns meter mRID → id."""
    meters = sorted({s.meter for s in stays})
    ids = uow.meters.resolve(tenant_id, [MeterRef(mrid=m) for m in meters], auto_register=True)
    meter_ids = dict(zip(meters, ids, strict=True))
    points = uow.usage_points.match(tenant_id, {s.usage_point for s in stays}, narrow=True)
    items = [
        Installation(meter_ids[s.meter], Site(points[s.usage_point].id), s.role, s.start, s.end)
        for s in stays
    ]
    uow.installations.add(tenant_id, items, by="test", reasons=["test"] * len(items))
    return {m: i for m, i in meter_ids.items() if i is not None}


def put_validated(
    uow: UnitOfWork, tenant_id: int, meter_id: int, code: str, stamps: Sequence[int],
    values: Sequence[float], *, quality: str = "3.0.1", kind: str = "interval",
) -> None:  # fmt: skip
    """Validated readings as VEE would store them."""
    type_id = uow.reading_types.ids_for([code])[code]
    method = "estimated:test" if "3.8.0" in quality else "validated"
    rows = [
        Row(meter_id, type_id, ts, kind, v, quality, method, "", "", "", "test")
        for ts, v in zip(stamps, values, strict=True)
    ]
    ValidatedRepository(uow).apply(tenant_id, rows, now=0)


#: A tariff set for month-scale runs: Maharashtra-style ToD, 30-minute demand for LT-II,
#: every usage point bill-ready whatever its gaps.
MONTH_CONFIG: dict[str, object] = {
    "calendars": {"mh": {"buckets": {"1": "normal", "2": "solar", "3": "peak"}, "seasons": [
        {"day_types": {"weekday": [["09:00", "17:00", 2], ["17:00", "24:00", 3]]}}]}},
    "assignments": [{"calendar": "mh", "from": "2024-01-01"}],
    "tariffs": {"LT-II": {"demand_minutes": 30}},
    "readiness": {"max_missing_pct": 100, "max_estimated_pct": 100},
}  # fmt: skip


def month_value(meter: int, i: int) -> float:
    """The deterministic kWh of a meter's i-th interval in ``seed_month``."""
    return ((meter * 7 + i * 13) % 97) / 100


def seed_month(
    database: Database, tenant: str, points: int, start: int, end: int, *, chunk: int = 250,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[int, dict[str, int]]:  # fmt: skip
    """``points`` usage points UP0… with meters M0… and 15-minute validated kWh over
    (start, end], daily aggregates refreshed, as a month of VEE'd ingest leaves them.
    Returns (tenant id, meter mRID → id)."""
    from cimhub.store.billing_config import BillingConfigs
    from cimhub.store.daily_aggregates import refresh

    ups = [f"UP{i}" for i in range(points)]
    with database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(tenant)
        BillingConfigs(uow).put(tenant_id, MONTH_CONFIG)
        add_usage_points(uow, tenant_id, ups, tariff="LT-II", category="commercial")
        meters = install(uow, tenant_id, [Stay(u, f"M{i}", 0) for i, u in enumerate(ups)])
        type_id = uow.reading_types.ids_for([KWH_15])[KWH_15]
    stamps = list(range(start + 900, end + 1, 900))
    ids = sorted(meters.values())
    for first in range(0, len(ids), chunk):
        part = ids[first : first + chunk]
        with database.unit_of_work(hub=True) as uow:
            rows = [
                Row(m, type_id, ts, "interval", month_value(m, i), "3.0.1", "validated",
                    "", "", "", "")
                for m in part
                for i, ts in enumerate(stamps)
            ]  # fmt: skip
            ValidatedRepository(uow).apply(tenant_id, rows, now=1)
            refresh(uow, tenant_id, [(m, start, end) for m in part])
        if on_chunk is not None:
            on_chunk(len(part))
    return tenant_id, meters
