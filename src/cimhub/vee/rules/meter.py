"""Intervals against registers: the sum check, and the multiplier / unit diagnosis."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from cimhub.vee import quality
from cimhub.vee.batch import Batch, Scope
from cimhub.vee.finding import Finding, Severity
from cimhub.vee.registry import interval_energy, rule, total_register
from cimhub.vee.runs import found


@dataclass(frozen=True, slots=True)
class Span:
    """The intervals between two register reads, and what the register says they hold."""

    stamps: list[int]
    interval_sum: float
    register_delta: float


def register_of(scope: Scope) -> Batch | None:
    """The CUM register measuring what this interval channel measures, if read in this run."""
    rt = scope.batch.reading_type
    for sibling in scope.siblings.values():
        srt = sibling.reading_type
        if total_register(sibling) and (srt.flow_direction, srt.unit, srt.phases) == (
            rt.flow_direction,
            rt.unit,
            rt.phases,
        ):
            return sibling
    return None


def spans(scope: Scope) -> Iterator[Span]:
    """Every pair of consecutive register reads whose intervals all arrived."""
    register = register_of(scope)
    if register is None:
        return
    scale = 10.0 ** (scope.batch.reading_type.multiplier - register.reading_type.multiplier)
    grid = scope.grid
    for i, j, r1, r2 in register_pairs(scope, register):
        chunk = grid.values[i + 1 : j + 1]
        if None in chunk:
            continue
        total = sum(v for v in chunk if v is not None) * scale
        yield Span(grid.timestamps[i + 1 : j + 1], total, r2 - r1)


def register_pairs(scope: Scope, register: Batch) -> Iterator[tuple[int, int, float, float]]:
    """(slot before the span, last slot of the span, first read, second read) for each two
    consecutive register reads that bound a span of this grid; slot -1 is the period
    start. Pairs with a rollover between them are left out."""
    grid = scope.grid
    if not grid.timestamps:
        return
    index = {ts: i for i, ts in enumerate(grid.timestamps)}
    index[grid.timestamps[0] - scope.batch.interval] = -1
    reads = list(zip(register.timestamps, register.values, strict=True))
    for (t1, r1), (t2, r2) in pairwise(reads):
        i, j = index.get(t1), index.get(t2)
        if i is not None and j is not None and r2 >= r1:
            yield i, j, r1, r2


@rule("sum.check", interval_energy)
def sum_check(scope: Scope) -> list[Finding]:
    """VEE standard "sum check": Σ intervals between two register reads vs the register
    difference, beyond tolerance (catches a wrong multiplier, corrupted intervals)."""
    p = scope.params
    out = []
    for span in spans(scope):
        if abs(span.interval_sum - span.register_delta) <= (
            p.sum_tolerance_abs + p.sum_tolerance_pct / 100 * span.register_delta
        ):
            continue
        out.append(
            found(
                scope,
                "sum.check",
                Severity.WARNING,
                quality.SUSPECT,
                span.stamps,
                f"Σ intervals {span.interval_sum:g} ≠ register difference {span.register_delta:g}",
                interval_sum=span.interval_sum,
                register_delta=span.register_delta,
            )
        )
    return out


@rule("meter.multiplier_unit", interval_energy)
def multiplier_unit(scope: Scope) -> list[Finding]:
    """VEE standard "multiplier / unit": the sum-check ratio equals the meter's CT/PT
    multiplier (applied on one side only) or 1000 (Wh vs kWh) — a configuration error."""
    multiplier = scope.context.meter.multiplier
    causes = {1000.0: "unit prefix (×1000)", 0.001: "unit prefix (÷1000)"}
    if multiplier and multiplier != 1:
        causes[multiplier] = "CT/PT multiplier applied to the intervals, not the register"
        causes[1 / multiplier] = "CT/PT multiplier applied to the register, not the intervals"
    tolerance = scope.params.sum_tolerance_pct / 100
    out = []
    for span in spans(scope):
        if span.register_delta <= 0 or span.interval_sum <= 0:
            continue
        ratio = span.interval_sum / span.register_delta
        cause = next((c for k, c in causes.items() if abs(ratio / k - 1) <= tolerance), None)
        if cause:
            out.append(
                found(
                    scope,
                    "meter.multiplier_unit",
                    Severity.ERROR,
                    quality.SUSPECT,
                    span.stamps,
                    f"Σ intervals / register difference = {ratio:g}: {cause}",
                    ratio=ratio,
                    multiplier=multiplier,
                )
            )
    return out
