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
    the relay was open is not judged low: the DISCOM switched the supply off. A day with
    a known outage is judged on its supplied intervals only, against the like days' same
    intervals: an outage explains what was not consumed, not what was (wholly out: not
    judged)."""
    p = scope.params
    stamps = scope.grid.timestamps
    span_days = (stamps[-1] - stamps[0]) // 86_400 if stamps else 0
    if len(scope.history.days) + span_days < p.history_min_days:
        return []  # not enough days to compare with: skip the day profiles altogether
    own = grid_days(scope)
    profiles = {**scope.history.days, **own}
    out = []
    days: dict[int, list[int]] | None = None
    for day, profile in sorted(own.items()):
        if None in profile.values:
            continue
        refs = like_days(day, profiles, p)
        if len(refs) < p.history_min_days:
            continue
        if days is None:  # the grid's stamps by local day, once (not once a day)
            days = scope.by_local_day(scope.grid.timestamps)
        stamps = days.get(day, [])
        supplied = _supplied_slots(scope, stamps)
        if not supplied:
            continue  # out all day: nothing to judge
        expected = median(_total(r.values, supplied) for r in refs)
        total = _total(profile.values, supplied)
        if expected <= 0:
            continue
        pct = 100.0 * total / expected
        if p.history_low_pct <= pct <= p.history_high_pct:
            continue
        high = pct > p.history_high_pct
        partial = {} if len(supplied) == len(stamps) else {"supplied_intervals": len(supplied)}
        if not high and any(scope.disconnected(ts) for ts in stamps):
            continue
        out.append(
            found(
                scope,
                "usage.history",
                Severity.WARNING,
                quality.ABOVE_PERCENT if high else quality.BELOW_PERCENT,
                stamps,
                f"day total {total:g} is {pct:.0f}% of its like days' {expected:g}"
                + (f" over its {len(supplied)} supplied intervals" if partial else ""),
                day_total=total,
                expected=expected,
                reference_days=[r.day for r in refs],
                **partial,
            )
        )
    return out


def _supplied_slots(scope: Scope, stamps: list[int]) -> list[int]:
    """The day's slots (indexes) no known outage touches; ``stamps`` is the whole day."""
    return [i for i, ts in enumerate(stamps) if not scope.in_outage(ts)]


def _total(values: tuple[float | None, ...], slots: list[int]) -> float:
    return sum(values[i] or 0.0 for i in slots)
