"""Cumulative and TOU energy registers: decrements, jumps, dials, rollover, resets, Σ TOU."""

from __future__ import annotations

from collections.abc import Iterator

from cimhub.vee import quality
from cimhub.vee.batch import Batch, Scope
from cimhub.vee.finding import Action, Finding, Severity
from cimhub.vee.registry import cumulative, kw_per_unit, rule, total_register, tou_register
from cimhub.vee.runs import found


def steps(scope: Scope) -> Iterator[tuple[int, float, int, float]]:
    """(previous ts, previous value, ts, value) for each read, the first against history."""
    batch = scope.batch
    prev = scope.history.previous
    first = batch.timestamps[0] if batch.timestamps else None
    last = (prev.ts, prev.value) if prev and (first is None or prev.ts < first) else None
    for ts, value in zip(batch.timestamps, batch.values, strict=True):
        if last is not None:
            yield last[0], last[1], ts, value
        last = (ts, value)


def _rollover(scope: Scope, before: float, after: float) -> float | None:
    """The advance across a rollover at the dial limit, or None if this is no rollover."""
    dials = scope.context.meter.dials
    if dials is None:
        return None
    limit = 10.0**dials
    advance = after + limit - before
    return advance if before <= limit and 0 <= advance < 0.1 * limit else None


def _decrement_allowed(scope: Scope) -> bool | None:
    """Net registers of net-metered points may go down (None: cannot tell)."""
    if scope.batch.reading_type.flow_direction != 4:
        return False
    return scope.context.usage_point.net_metering


@rule("register.decrement", total_register)
def decrement(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 b.i and §2.4.7 (net metering, forward decrements): a CUM register going
    down within the cycle, unless it rolled over at its dials or is the net register of a
    net-metered point. Forward registers of net-metered points are checked too."""
    return _decrements(scope, "register.decrement")


@rule("tou.decrement", tou_register)
def tou_decrement(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 c.i: a TOU register going down (except net registers of net metering)."""
    return _decrements(scope, "tou.decrement", skip_resets=True)


def _decrements(scope: Scope, rule_id: str, *, skip_resets: bool = False) -> list[Finding]:
    allowed = _decrement_allowed(scope)
    if allowed is None or allowed:
        return []
    tolerance = scope.params.register_tolerance
    out = []
    for _, before, ts, after in steps(scope):
        if after >= before - tolerance or _rollover(scope, before, after) is not None:
            continue
        if skip_resets and after == 0:
            continue  # tou.reset reports it
        out.append(
            found(
                scope,
                rule_id,
                Severity.ERROR,
                quality.OUTSIDE_RANGE,
                [ts],
                f"register went down from {before:g} to {after:g}",
                Action.ESTIMATE,
                before=before,
                after=after,
            )
        )
    return out


@rule("tou.reset", tou_register)
def tou_reset(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 c.ii: a TOU register reset to zero (except net metering)."""
    if scope.context.usage_point.net_metering:
        return []
    return [
        found(
            scope,
            "tou.reset",
            Severity.ERROR,
            quality.RESET,
            [ts],
            f"TOU register reset from {before:g} to 0",
            Action.ESTIMATE,
            before=before,
        )
        for _, before, ts, after in steps(scope)
        if after == 0 and before > 0
    ]


@rule("register.rollover", cumulative)
def rollover(scope: Scope) -> list[Finding]:
    """VEE standard "register rollover": the register passed its dial limit (valid, noted)."""
    out = []
    for _, before, ts, after in steps(scope):
        advance = _rollover(scope, before, after) if after < before else None
        if advance is not None:
            out.append(
                found(
                    scope,
                    "register.rollover",
                    Severity.INFO,
                    quality.OVERFLOW,
                    [ts],
                    f"rolled over at {scope.context.meter.dials} dials: {before:g} → {after:g}",
                    advance=advance,
                )
            )
    return out


@rule("register.dials", cumulative)
def dials(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 b.iv: the read has more digits than the meter has dials."""
    count = scope.context.meter.dials
    if count is None:
        return []
    limit = 10.0**count
    batch = scope.batch
    bad = [(ts, v) for ts, v in zip(batch.timestamps, batch.values, strict=True) if v >= limit]
    if not bad:
        return []
    return [
        found(
            scope,
            "register.dials",
            Severity.ERROR,
            quality.OUTSIDE_RANGE,
            [ts for ts, _ in bad],
            f"{len(bad)} read(s) beyond the meter's {count} dials",
            Action.ESTIMATE,
            values=[v for _, v in bad],
        )
    ]


@rule("register.increment", cumulative)
def increment(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 b.ii / c.iii: the register advanced more than the configured threshold
    (per day; by default the sanctioned load × 24 h × the sanctioned-load factor)."""
    per_day = _max_per_day(scope)
    if per_day is None:
        return []
    out = []
    for before_ts, before, ts, after in steps(scope):
        advance = after - before
        if advance < 0:
            advance = _rollover(scope, before, after) or 0.0
        limit = per_day * max(ts - before_ts, 3600) / 86_400
        if advance > limit:
            out.append(
                found(
                    scope,
                    "register.increment",
                    Severity.ERROR,
                    quality.ABOVE_MAXIMUM,
                    [ts],
                    f"advanced {advance:g} where at most {limit:g} is plausible",
                    Action.ESTIMATE,
                    advance=advance,
                    limit=limit,
                )
            )
    return out


def _max_per_day(scope: Scope) -> float | None:
    p = scope.params
    if p.max_increment_per_day is not None:
        return p.max_increment_per_day
    load = scope.context.usage_point.sanctioned_load_kw
    if load is None:
        return None
    return load * 24 * p.sanctioned_load_factor / kw_per_unit(scope.batch)


def tou_codes(code: str) -> tuple[str, int]:
    """The code with its TOU field zeroed, and the TOU field."""
    fields = code.split(".")
    tou = int(fields[11])
    fields[11] = "0"
    return ".".join(fields), tou


@rule("tou.sum", total_register)
def tou_sum(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 c.v: Σ TOU registers − CUM register beyond tolerance, at each time all
    of them were read."""
    batch = scope.batch
    tous: list[Batch] = []
    for code, sibling in scope.siblings.items():
        base, tou = tou_codes(code)
        if tou > 0 and base == batch.key.reading_type:
            tous.append(sibling)
    if not tous:
        return []
    reads = [dict(zip(b.timestamps, b.values, strict=True)) for b in tous]
    p = scope.params
    out = []
    for ts, cum in zip(batch.timestamps, batch.values, strict=True):
        parts = [r.get(ts) for r in reads]
        if None in parts:
            continue
        total = sum(v for v in parts if v is not None)
        if abs(total - cum) > p.tou_tolerance_abs + p.tou_tolerance_pct / 100 * abs(cum):
            out.append(
                found(
                    scope,
                    "tou.sum",
                    Severity.WARNING,
                    quality.TOU_SUM,
                    [ts],
                    f"Σ TOU {total:g} differs from CUM {cum:g}",
                    tou_sum=total,
                    cum=cum,
                    tou_registers=len(parts),
                )
            )
    return out
