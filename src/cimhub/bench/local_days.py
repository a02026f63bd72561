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
from cimhub.bench.ingest import measure
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
    figures = []
    start = local_start()
    for backend in (b for b in ctx.backends if b == BACKEND):
        for size in (s for s in ctx.plan.sizes if s >= 100):  # a meter's day alone: no gain
            traffic = ctx.traffic(size, start=start)
            with ctx.database(backend) as url:
                pipeline = ctx.pipeline(url)
                ctx.install_meters(pipeline.database)
                timed = measure(ctx, backend, traffic, pipeline, "local days")
            aggregates = timed.stages.get("daily aggregates", 0.0)
            values = {"e2e": timed.rate, "aggregates": aggregates}
            figures.append(Figure("local_days", (backend, traffic.label), values))
    return figures
