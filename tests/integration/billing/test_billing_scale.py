"""Done-when check: many usage points with a month of 15-minute data on PostgreSQL; the
billing run (a summation of daily aggregates) equals a straightforward recomputation from
the validated layer, and the determinants go to a billing subscriber exactly once."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cimhub.billing.cycle import day_start
from cimhub.billing.reading_types import energy
from cimhub.handlers.billing import run_and_export
from cimhub.store.billing import determinants
from cimhub.store.database import Database
from cimhub.store.outbox import OutboxRow
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.store.validated import CURRENT
from cimhub.testing.billing import seed_month
from cimhub.testing.databases import postgres_database

IST = ZoneInfo("Asia/Kolkata")
START = day_start(date(2024, 6, 1), IST)
END = day_start(date(2024, 7, 1), IST)
#: 10 000 (the done-when size) takes minutes here: set CIMHUB_BILLING_SCALE_POINTS=10000
POINTS = int(os.environ.get("CIMHUB_BILLING_SCALE_POINTS", "1000"))


@pytest.mark.slow
@pytest.mark.postgres
def test_a_month_of_usage_points_bills_like_a_recomputation() -> None:
    with postgres_database() as url:
        db = Database(url)
        db.upgrade()
        tenant, meters = _seed(db)
        began = time.perf_counter()
        with db.unit_of_work(hub=True) as uow:
            run = run_and_export(uow, tenant, "2024-06")
        print(f"billing run of {POINTS} usage points: {time.perf_counter() - began:.1f} s")
        assert run.result.usage_points == POINTS
        with db.unit_of_work(hub=True) as uow:
            stored = {r["mrid"]: r["data"] for r in determinants(uow, tenant, cycle="2024-06")}
            expected = _recompute(uow, tenant, meters)
        assert {m: _essentials(d) for m, d in stored.items()} == expected
        with db.unit_of_work(hub=True) as uow:
            run_and_export(uow, tenant, "2024-06")  # again: nothing new to send
        with db.engine.connect() as c:
            rows = c.execute(select(OutboxRow.body)).scalars().all()
        bodies = b"".join(rows).decode()
        assert sum(bodies.count(f"<mRID>UP{i}</mRID>") for i in range(POINTS)) == POINTS
        assert bodies.count("<UsagePoint>") == POINTS
        db.dispose()


def _seed(db: Database) -> tuple[int, dict[str, int]]:
    tenant, meters = seed_month(db, "scale", POINTS, START, END)
    with db.unit_of_work(hub=True) as uow:
        SubscriptionRepository(uow).put(
            Subscription("billing", "MeterReadings", ("created",), "http://billing.example",
                         reading_types=(energy("kwh_import"), energy("kwh_import", 3)))
        )  # fmt: skip
    return tenant, meters


def _recompute(uow, tenant: int, meters: dict[str, int]) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    """Straight from the validated layer: local time, slot rules and 30-min blocks written
    out directly, integers of mWh."""
    from datetime import datetime

    c = CURRENT.c
    rows = uow.session.execute(
        select(c.meter_id, c.ts, c.value).where(c.tenant_id == tenant, c.ts > START, c.ts <= END)
    )
    total: dict[int, int] = defaultdict(int)
    peak: dict[int, int] = defaultdict(int)
    blocks: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for meter, ts, v in rows:
        milli = round(v * 1_000_000)
        begin = datetime.fromtimestamp(ts - 900, IST)
        total[meter] += milli
        if begin.hour >= 17:  # no weekend plan: weekends borrow the weekday's
            peak[meter] += milli
        blocks[meter][(ts - 900 - START) // 1800] += milli
    out = {}
    for i in range(POINTS):
        m = meters[f"M{i}"]
        best = max(blocks[m].items(), key=lambda kv: (kv[1], -kv[0]))
        out[f"UP{i}"] = {
            "kwh": total[m] / 1_000_000,
            "peak": peak[m] / 1_000_000,
            "md_kw": (best[1] * 2 / 1_000_000, START + (best[0] + 1) * 1800),
        }
    return out


def _essentials(d: dict[str, object]) -> dict[str, object]:
    md = d["md_kw"]
    assert isinstance(md, dict)
    tou = d["tou"]
    assert isinstance(tou, dict)
    return {
        "kwh": d["kwh_import"],
        "peak": tou["kwh_import"]["3"],
        "md_kw": (md["value"], md["ts"]),
    }
