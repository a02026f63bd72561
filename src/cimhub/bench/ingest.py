"""End-to-end ingest: CIM XML in → parse/validate → map → (VEE) → store → reply."""

from __future__ import annotations

import time

from cimhub.bench.context import TENANT, BenchError, Context
from cimhub.bench.scenario import Figure
from cimhub.bench.traffic import Traffic
from cimhub.bus.pipeline import Inbound, Pipeline
from cimhub.message.reply import Result
from cimhub.settings import Settings

TRANSPORT = "bench"


def vee_built() -> bool:
    """Whether this hub has VEE (its on/off setting exists)."""
    return "vee_enabled" in Settings.model_fields


def run(ctx: Context) -> list[Figure]:
    """Every size on every backend, with the hub's default settings (VEE on when built)."""
    return _run(ctx, "e2e", {})


def run_vee_off(ctx: Context) -> list[Figure]:
    """The same with VEE switched off: what VEE costs."""
    return _run(ctx, "e2e_vee_off", {"vee_enabled": False})


def _run(ctx: Context, figure: str, settings: dict[str, object]) -> list[Figure]:
    figures = []
    for backend in ctx.backends:
        for size in ctx.plan.sizes:
            traffic = ctx.traffic(size)
            with ctx.database(backend) as url:
                pipeline = ctx.pipeline(url, **settings)
                figures.append(_measure(ctx, backend, traffic, pipeline, figure))
    return figures


def send(pipeline: Pipeline, raw: bytes) -> None:
    """Process one message and insist it was stored whole."""
    answer = pipeline.process(Inbound(raw, TENANT, TRANSPORT))
    if answer.result is not Result.OK:
        raise BenchError(f"ingest answered {answer.result} {answer.code}: {answer.body[:400]!r}")


def _measure(
    ctx: Context, backend: str, traffic: Traffic, pipeline: Pipeline, figure: str
) -> Figure:
    for raw in traffic.warmup:
        send(pipeline, raw)
    ctx.analyse(pipeline.database.url)
    per_message = traffic.size * traffic.intervals
    budget = ctx.plan.ingest_seconds
    title = f"ingest {backend} {traffic.label}" + (" VEE off" if figure != "e2e" else "")
    sent = 0
    with ctx.task(title, traffic.readings) as advance:
        cpu, wall = time.process_time(), time.perf_counter()
        for raw in traffic.messages:
            send(pipeline, raw)
            sent += 1
            advance(per_message)
            if time.perf_counter() - wall > budget:
                break
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    values = {figure: sent * per_message / wall}
    if figure == "e2e":
        values |= {"cpu_share": cpu / wall, "ms_per_message": 1000 * wall / sent}
    return Figure("ingest", (backend, traffic.label), values)
