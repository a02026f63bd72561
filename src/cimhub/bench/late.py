"""Late readings: a day that arrives after VEE estimated it as a gap.

A head-end that missed a day's push sends it after the next day's: by then VEE has
estimated the missing day, and the late day replaces every estimate with a new version
holding the measured value (reason "late reading"; the estimate stays as a version).
Each round sends day d on time, day d+2 (d+1 becomes a gap, estimated), then day d+1
late; the on-time and the late messages are timed end to end through
``Pipeline.process``, and the late one must have replaced one estimate per reading.
"""

from __future__ import annotations

import time

from sqlalchemy import text

from cimhub.bench.context import BenchError, Context
from cimhub.bench.ingest import send
from cimhub.bench.scenario import Figure
from cimhub.bench.traffic import message, size_label
from cimhub.bus.pipeline import Pipeline

#: Versions (replaced estimates) stored so far: each late reading adds one.
_VERSIONS = text("SELECT count(*) FROM validated_reading_version")


def rounds(ctx: Context, size: int) -> int:
    """Rounds per message size: a few of the smaller messages, one of the largest."""
    return 1 if ctx.plan.quick or size >= 1000 else 3


def run(ctx: Context) -> list[Figure]:
    figures = []
    for backend in ctx.backends:
        for size in ctx.plan.sizes:
            if size < 100:  # one meter's late day is 96 rows: too few to time
                continue
            with ctx.database(backend) as url:
                pipeline = ctx.pipeline(url)
                ctx.install_meters(pipeline.database)
                figures.append(_measure(ctx, backend, pipeline, size))
    return figures


def _measure(ctx: Context, backend: str, pipeline: Pipeline, size: int) -> Figure:
    intervals = ctx.plan.intervals
    meters = range(1, size + 1)
    send(pipeline, message(meters, 0, intervals, "late-warm"))
    ctx.analyse(pipeline.database.url)
    per_message = size * intervals
    on_time = late = 0.0
    count = rounds(ctx, size)
    with ctx.task(f"late readings {backend} {size_label(size)}", count * 3) as advance:
        for r in range(count):
            first = 1 + 3 * r
            on_time += _timed(pipeline, message(meters, first, intervals, "late"))
            send(pipeline, message(meters, first + 2, intervals, "late"))  # first+1: a gap
            before = _versions(pipeline)
            late += _timed(pipeline, message(meters, first + 1, intervals, "late"))
            replaced = _versions(pipeline) - before
            if replaced != per_message:
                raise BenchError(f"a late day replaced {replaced} estimates, not {per_message}")
            advance(3)
    return Figure(
        "late",
        (backend, size_label(size, intervals)),
        {"on_time": count * per_message / on_time, "late": count * per_message / late},
    )


def _timed(pipeline: Pipeline, raw: bytes) -> float:
    started = time.perf_counter()
    send(pipeline, raw)
    return time.perf_counter() - started


def _versions(pipeline: Pipeline) -> int:
    with pipeline.database.engine.connect() as connection:
        return int(connection.execute(_VERSIONS).scalar_one())
