"""Maximum-demand registers: reset on the billing cycle, not off it, and not too high."""

from __future__ import annotations

from datetime import UTC, datetime

from cimhub.vee import quality
from cimhub.vee.batch import Scope
from cimhub.vee.finding import Finding, Severity
from cimhub.vee.registry import demand_register, kw_per_unit, rule
from cimhub.vee.rules.register import steps
from cimhub.vee.runs import found


def cycles_between(scope: Scope, before: int, after: int) -> int | None:
    """How many billing-cycle resets (local midnight of the billing day) lie in (before, after]."""
    day = scope.context.usage_point.billing_day
    if day is None:
        return None
    offset = scope.params.utc_offset_minutes * 60
    count = 0
    moment = datetime.fromtimestamp(before + offset, UTC).replace(day=1, hour=0, minute=0, second=0)
    while True:
        reset = int(moment.replace(day=min(day, 28)).timestamp()) - offset
        if reset > after:
            return count
        if reset > before:
            count += 1
        moment = moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)


@rule("demand.not_reset", demand_register)
def not_reset(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 d.i: the MD register did not reset on the billing cycle (the first read
    of a new cycle is not below the last read of the old one)."""
    out = []
    for before_ts, before, ts, after in steps(scope):
        crossed = cycles_between(scope, before_ts, ts)
        if crossed and before > 0 and after >= before:
            out.append(
                found(
                    scope,
                    "demand.not_reset",
                    Severity.WARNING,
                    quality.SUSPECT,
                    [ts],
                    f"MD {after:g} after the cycle reset is not below {before:g}",
                    before=before,
                    after=after,
                )
            )
    return out


@rule("demand.reset_off_cycle", demand_register)
def reset_off_cycle(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 d.iii: the MD register went down inside a billing cycle."""
    tolerance = scope.params.register_tolerance
    out = []
    for before_ts, before, ts, after in steps(scope):
        crossed = cycles_between(scope, before_ts, ts)
        if crossed == 0 and after < before - tolerance:
            out.append(
                found(
                    scope,
                    "demand.reset_off_cycle",
                    Severity.WARNING,
                    quality.RESET,
                    [ts],
                    f"MD fell from {before:g} to {after:g} inside a billing cycle",
                    before=before,
                    after=after,
                )
            )
    return out


@rule("demand.too_high", demand_register)
def too_high(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 d.iv: MD above the sanctioned load × the demand factor."""
    load = scope.context.usage_point.sanctioned_load_kw
    if load is None:
        return []
    limit = load * scope.params.demand_factor / kw_per_unit(scope.batch)
    batch = scope.batch
    stamps = [ts for ts, v in zip(batch.timestamps, batch.values, strict=True) if v > limit]
    if not stamps:
        return []
    return [
        found(
            scope,
            "demand.too_high",
            Severity.WARNING,
            quality.ABOVE_MAXIMUM,
            stamps,
            f"MD above {limit:g} (sanctioned {load:g} kW)",
            limit=limit,
        )
    ]
