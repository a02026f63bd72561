"""End-to-end ingest: CIM XML in → parse/validate → map → (VEE) → store → reply."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cimhub.bench.context import TENANT, BenchError, Context
from cimhub.bench.masterdata import daily_rows
from cimhub.bench.repeats import median, run_all, spread
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
    what = "" if figure == "e2e" else "VEE off"

    def one(case: tuple[str, int], label: str) -> tuple[Timed, int]:
        backend, size = case
        with ctx.database(backend) as url:
            pipeline = ctx.pipeline(url, **settings)
            ctx.install_meters(pipeline.database)
            timed = measure(ctx, backend, ctx.traffic(size), pipeline, f"{what} {label}".strip())
            return timed, daily_rows(pipeline.database) if figure == "e2e" else 0

    cases = [(backend, size) for backend in ctx.backends for size in ctx.plan.sizes]
    figures = []
    for (backend, size), done in run_all(cases, ctx.plan.repeats, one).items():
        figures += _figures(backend, ctx.traffic(size).label, figure, done)
    return figures


def send(pipeline: Pipeline, raw: bytes) -> None:
    """Process one message and insist it was stored whole."""
    answer = pipeline.process(Inbound(raw, TENANT, TRANSPORT))
    if answer.result is not Result.OK:
        raise BenchError(f"ingest answered {answer.result} {answer.code}: {answer.body[:400]!r}")


@dataclass(frozen=True, slots=True)
class Timed:
    """One timed ingest run: readings a second, the process's CPU share of the wall time,
    milliseconds a message, and µs a reading per stage of ``cimhub.stages``."""

    rate: float
    cpu_share: float
    ms_per_message: float
    stages: dict[str, float]


def _figures(backend: str, label: str, figure: str, done: list[tuple[Timed, int]]) -> list[Figure]:
    """The median run's figures, the runs' spread beside them; with VEE on, also where
    each reading's time went in the median run."""
    timed, daily = median(done, lambda run: run[0].rate)
    values = {figure: timed.rate} | spread(figure, [run.rate for run, _ in done])
    figures = [Figure("ingest", (backend, label), values)]
    if figure == "e2e":
        values |= {"cpu_share": timed.cpu_share, "ms_per_message": timed.ms_per_message}
        values["daily_rows"] = daily
        figures.append(Figure("stages", (backend, label), timed.stages))
    return figures


def measure(
    ctx: Context, backend: str, traffic: Traffic, pipeline: Pipeline, what: str = ""
) -> Timed:
    """Send the warm-up untimed, then the messages until this run's share of the plan's
    time budget (on whole messages), each through ``Pipeline.process``."""
    for raw in traffic.warmup:
        send(pipeline, raw)
    ctx.analyse(pipeline.database.url)
    per_message = traffic.size * traffic.intervals
    budget = ctx.plan.ingest_seconds / ctx.plan.repeats
    title = " ".join(filter(None, ("ingest", backend, traffic.label, what)))
    sent = 0
    before = pipeline.clock.totals()
    with ctx.task(title, traffic.readings) as advance:
        cpu, wall = time.process_time(), time.perf_counter()
        for raw in traffic.messages:
            send(pipeline, raw)
            sent += 1
            advance(per_message)
            if time.perf_counter() - wall > budget:
                break
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    readings = sent * per_message
    spent = stage_seconds(before, pipeline.clock.totals())
    return Timed(
        readings / wall,
        cpu / wall,
        1000 * wall / sent,
        {name: 1e6 * s / readings for name, s in spent.items()},
    )


def stage_seconds(
    before: dict[str, tuple[float, int]], after: dict[str, tuple[float, int]]
) -> dict[str, float]:
    """Seconds each stage took between two ``StageClock.totals()``."""
    return {name: s - before.get(name, (0.0, 0))[0] for name, (s, _) in after.items()}
