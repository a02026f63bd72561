"""Ingest of local days: the same traffic, each message a day from midnight in India.

The ingest scenario's messages are UTC days, which straddle two local (IST) days: the
daily billing aggregates then read back the rest of the earlier day from the validated
layer. Indian head-ends push local days, which leave nothing to read back. This runs the
larger sizes again with days starting at IST midnight, on PostgreSQL (the targets'
store), VEE on, beside the UTC figures: what a DISCOM's traffic gets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cimhub.bench.context import Context
from cimhub.bench.ingest import Timed, measure
from cimhub.bench.repeats import median, run_all, spread
from cimhub.bench.scenario import Figure
from cimhub.bench.traffic import START
from cimhub.billing.config import BillingConfig

BACKEND = "postgresql"
#: The hub's default billing zone (Asia/Kolkata): where local days begin.
ZONE = ZoneInfo(BillingConfig().timezone)


def local_start(start: datetime = START) -> datetime:
    """Midnight in the billing zone at the start of ``start``'s date: 18:30 UTC the day
    before, for India (in UTC, so that the messages' timestamps are written as the UTC
    days' are and only the days' bounds differ)."""
    return datetime.combine(start.date(), datetime.min.time(), ZONE).astimezone(UTC)


def run(ctx: Context) -> list[Figure]:
    start = local_start()

    def one(case: tuple[str, int], label: str) -> Timed:
        backend, size = case
        with ctx.database(backend) as url:
            pipeline = ctx.pipeline(url)
            ctx.install_meters(pipeline.database)
            traffic = ctx.traffic(size, start=start)
            return measure(ctx, backend, traffic, pipeline, f"local days {label}".strip())

    sizes = [s for s in ctx.plan.sizes if s >= 100]  # a meter's day alone: nothing to gain
    cases = [(backend, size) for backend in ctx.backends if backend == BACKEND for size in sizes]
    figures = []
    for (backend, size), done in run_all(cases, ctx.plan.repeats, one).items():
        timed = median(done, lambda run: run.rate)
        values = {"e2e": timed.rate, "aggregates": timed.stages.get("daily aggregates", 0.0)}
        values |= spread("e2e", [run.rate for run in done])
        label = ctx.traffic(size, start=start).label
        figures.append(Figure("local_days", (backend, label), values))
    return figures
