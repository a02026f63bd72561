"""Billing determinants for N usage-point-months: the monthly run over daily aggregates.

Each store gets N usage points with a month (June 2024, Asia/Kolkata) of 15-minute
validated kWh and its daily aggregates, as a month of ingest with VEE leaves them
(seeding is not timed); then, the heap settled as `cimhub serve` settles it,
``run_and_export`` — determinants, readiness, and the billing subscriber's outbox
messages — is timed once, in one transaction.
"""

from __future__ import annotations

import time
from datetime import date
from zoneinfo import ZoneInfo

from cimhub.bench.context import BenchError, Context
from cimhub.bench.scenario import Figure
from cimhub.billing.cycle import day_start
from cimhub.billing.reading_types import energy
from cimhub.handlers.billing import run_and_export
from cimhub.heap import settle
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.testing.billing import seed_month

IST = ZoneInfo("Asia/Kolkata")
CYCLE = "2024-06"
START, END = day_start(date(2024, 6, 1), IST), day_start(date(2024, 7, 1), IST)


def points(ctx: Context) -> int:
    return 20 if ctx.plan.quick else max(10, round(1000 * ctx.plan.scale))


def run(ctx: Context) -> list[Figure]:
    figures = []
    count = points(ctx)
    for backend in ctx.backends:
        with ctx.database(backend) as url:
            database = ctx.store(url)
            with ctx.task(f"billing {backend}: seed {count} usage-point-months", count) as step:
                tenant_id, _ = seed_month(database, "bench", count, START, END, on_chunk=step)
            ctx.analyse(url)
            # As `cimhub serve` is once wired: start-up's ~850 k objects (compiled schemas)
            # out of the collector's sight, or each full collection in the run scans them.
            settle()
            with database.unit_of_work(hub=True) as uow:
                SubscriptionRepository(uow).put(
                    Subscription("billing", "MeterReadings", ("created",), "http://billing.example",
                                 reading_types=(energy("kwh_import"),))
                )  # fmt: skip
            with ctx.task(f"billing {backend}: run {CYCLE}", 1) as step:
                began = time.perf_counter()
                with database.unit_of_work(hub=True) as uow:
                    billed = run_and_export(uow, tenant_id, CYCLE)
                seconds = time.perf_counter() - began
                step(1)
        if billed.result.usage_points != count:
            raise BenchError(f"billed {billed.result.usage_points} of {count} usage points")
        figures.append(
            Figure(
                "billing",
                (backend, f"{count} usage-point-months"),
                {
                    "points": count,
                    "seconds": seconds,
                    "per_second": count / seconds,
                    "seconds_10k": 10_000 * seconds / count,
                },
            )
        )
    return figures
