"""Bill-readiness: % estimated, % missing and open exceptions against tenant thresholds;
a usage point past any of them is held back with the reason (issue 7 §5).

A metered point's time without a main meter (removed, not yet replaced) has no intervals;
the local days of it that VEE assessed (``vee/assessment.py``) are complete, not missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cimhub.billing.config import Readiness
from cimhub.billing.determinants import Determinants
from cimhub.domain.span import Span, uncovered

DAY = 86_400


@dataclass(frozen=True, slots=True)
class Unmetered:
    """Intervals of the period, after the point's first main meter, that no main meter
    stood for."""

    assessed: int = 0  #: inside an assessed day: complete
    unassessed: int = 0  #: missing, until ``cimhub vee non-metered`` assesses them


NO_GAPS = Unmetered()


def unmetered(
    start: int, end: int, meters: Sequence[Span], assessed_days: Iterable[int], interval: int
) -> Unmetered:
    """``meters``: the spans a main meter stood at the point; ``assessed_days``: the ends
    of its assessed local days. Before the first meter nothing is assessed (a connection
    still to be metered), so that time is left to the ordinary missing count.

    >>> h = 3600
    >>> unmetered(0, 48 * h, [(-h, 12 * h)], [24 * h], 900)  # removed at 12:00, day 1 assessed
    Unmetered(assessed=48, unassessed=96)
    >>> unmetered(0, 48 * h, [(24 * h, 2**62)], [], 900)  # before its first meter: not counted
    Unmetered(assessed=0, unassessed=0)
    """
    if not meters:
        return Unmetered()
    first = max(start, min(a for a, _ in meters))
    gaps = uncovered(first, end, meters)
    days = [(ts - DAY, ts) for ts in set(assessed_days)]
    covered = sum(max(0, min(b, y) - max(a, x)) for a, b in gaps for x, y in days)
    total = sum(b - a for a, b in gaps)
    return Unmetered(covered // interval, (total - covered) // interval)


@dataclass(frozen=True, slots=True)
class Verdict:
    ready: bool
    estimated_pct: float
    missing_pct: float
    open_exceptions: int
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def judge(
    d: Determinants,
    expected: int,
    open_exceptions: int,
    limits: Readiness,
    gaps: Unmetered = NO_GAPS,
) -> Verdict:
    """``expected``: intervals the period should hold on the main kWh channel; ``gaps``:
    those no meter stood for. Assessed ones count as present, not as estimated: the
    assessment is what such a point is billed on, reported apart (``assessed_kwh``), and
    would otherwise hold back every point whose meter was removed for a few days.

    >>> from cimhub.billing.determinants import Determinants
    >>> v = judge(Determinants(present=90, estimated=20), 100, 0, Readiness(10.0, 5.0, None))
    >>> v.ready, v.reason
    (False, 'estimated 20.0% > 10.0%; missing 10.0% > 5.0%')
    """
    expected = max(expected, 1)
    estimated = round(100 * d.estimated / expected, 2)
    missing = round(100 * max(expected - d.present - gaps.assessed, 0) / expected, 2)
    reasons = []
    if limits.max_estimated_pct is not None and estimated > limits.max_estimated_pct:
        reasons.append(f"estimated {estimated}% > {limits.max_estimated_pct}%")
    if limits.max_missing_pct is not None and missing > limits.max_missing_pct:
        reasons.append(f"missing {missing}% > {limits.max_missing_pct}%" + _hint(gaps))
    if limits.max_open_exceptions is not None and open_exceptions > limits.max_open_exceptions:
        reasons.append(
            f"{open_exceptions} open exception(s) > {limits.max_open_exceptions} allowed"
        )
    return Verdict(not reasons, estimated, missing, open_exceptions, tuple(reasons))


def _hint(gaps: Unmetered) -> str:
    if not gaps.unassessed:
        return ""
    return f" ({gaps.unassessed} intervals without a meter not assessed: cimhub vee non-metered)"
