"""Usage against the consumer's own history: daily totals vs like days."""

from __future__ import annotations

from statistics import median

from cimhub.vee import quality
from cimhub.vee.batch import Scope
from cimhub.vee.calendar import grid_days, like_days
from cimhub.vee.finding import Finding, Severity
from cimhub.vee.registry import interval_energy, rule
from cimhub.vee.runs import found


@rule("usage.history", interval_energy)
def high_low(scope: Scope) -> list[Finding]:
    """VEE standard "high / low usage vs history": a complete day's total against the
    median total of its like days (same day type, clean). Needs ``history_min_days``
    reference days; the earlier days of the batch itself count as history. A day on which
    the relay was open is not judged low: the DISCOM switched the supply off."""
    p = scope.params
    stamps = scope.grid.timestamps
    span_days = (stamps[-1] - stamps[0]) // 86_400 if stamps else 0
    if len(scope.history.days) + span_days < p.history_min_days:
        return []  # not enough days to compare with: skip the day profiles altogether
    own = grid_days(scope)
    profiles = {**scope.history.days, **own}
    out = []
    for day, profile in sorted(own.items()):
        if None in profile.values:
            continue
        refs = like_days(day, profiles, p)
        if len(refs) < p.history_min_days:
            continue
        expected = median(sum(v or 0.0 for v in r.values) for r in refs)
        total = sum(v or 0.0 for v in profile.values)
        if expected <= 0:
            continue
        pct = 100.0 * total / expected
        if p.history_low_pct <= pct <= p.history_high_pct:
            continue
        high = pct > p.history_high_pct
        stamps = [ts for ts in scope.grid.timestamps if scope.local_day(ts) == day]
        if not high and any(scope.disconnected(ts) for ts in stamps):
            continue
        out.append(
            found(
                scope,
                "usage.history",
                Severity.WARNING,
                quality.ABOVE_PERCENT if high else quality.BELOW_PERCENT,
                stamps,
                f"day total {total:g} is {pct:.0f}% of its like days' {expected:g}",
                day_total=total,
                expected=expected,
                reference_days=[r.day for r in refs],
            )
        )
    return out
