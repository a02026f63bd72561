"""Grouped ingest: one-meter messages N to a batch through ``Pipeline.handle_many``.

What a `cimhub worker` does with what arrived (``worker_batch_messages``), measured
in-process on both stores so that the grouping is priced without a broker: parse and
accept each message, then one transaction for the batch — one idempotency query, one
message-log insert, one meter look-up, one COPY of the raw rows, one VEE run, one
completion — and every message's own reply checked.
"""

from __future__ import annotations

import time

from cimhub.bench.context import TENANT, BenchError, Context
from cimhub.bench.ingest import TRANSPORT, send, stage_seconds
from cimhub.bench.repeats import median, run_all, spread
from cimhub.bench.scenario import Figure
from cimhub.bus.pipeline import Answer, Inbound, Pipeline
from cimhub.message import parser
from cimhub.message.reply import Result
from cimhub.stages import stage


def run(ctx: Context) -> list[Figure]:
    traffic = ctx.traffic(1)

    def one(case: tuple[str, int], label: str) -> tuple[float, dict[str, float]]:
        backend, group = case
        with ctx.database(backend) as url:
            pipeline = ctx.pipeline(url)
            ctx.install_meters(pipeline.database)
            for raw in traffic.warmup:
                send(pipeline, raw)
            ctx.analyse(url)
            before = pipeline.clock.totals()
            rate, readings = _measure(ctx, pipeline, traffic.messages, group, backend, label)
            spent = stage_seconds(before, pipeline.clock.totals())
        return rate, {name: 1e6 * s / readings for name, s in spent.items()}

    cases = [(backend, group) for backend in ctx.backends for group in ctx.plan.groups]
    figures = []
    for (backend, group), done in run_all(cases, ctx.plan.repeats, one).items():
        rate, per_reading = median(done, lambda run: run[0])
        what = f"{traffic.label}, {group} a batch"
        values = {"e2e": rate} | spread("e2e", [r for r, _ in done])
        figures.append(Figure("grouped", (backend, what), values))
        figures.append(Figure("stages", (backend, what), per_reading))
    return figures


def _measure(
    ctx: Context, pipeline: Pipeline, messages: list[bytes], group: int, backend: str, label: str
) -> tuple[float, int]:
    """Readings per second, and how many were sent (this run's share of the budget)."""
    per_message = ctx.plan.intervals
    budget = ctx.plan.ingest_seconds / ctx.plan.repeats
    sent = 0
    title = f"grouped {backend}: 1×{per_message} × {group} a batch {label}".strip()
    with ctx.task(title, len(messages) * per_message) as advance:
        started = time.perf_counter()
        for first in range(0, len(messages), group):
            batch = messages[first : first + group]
            _check(handle(pipeline, batch))
            sent += len(batch)
            advance(len(batch) * per_message)
            if time.perf_counter() - started > budget:
                break
        elapsed = time.perf_counter() - started
    return sent * per_message / elapsed, sent * per_message


def handle(pipeline: Pipeline, batch: list[bytes]) -> list[object]:
    """What a worker does with a batch: accept each message, handle them together."""
    with pipeline.clock.running():
        accepted = []
        for raw in batch:
            with stage("parse"):
                root = parser.parse(raw, pipeline.limits)
            accepted.append(pipeline.accept(root, Inbound(raw, TENANT, TRANSPORT)))
        return list(pipeline.handle_many(accepted))


def _check(results: list[object]) -> None:
    for result in results:
        if not isinstance(result, Answer) or result.result is not Result.OK:
            raise BenchError(f"grouped ingest answered {result!r}"[:400])
