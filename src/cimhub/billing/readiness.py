"""Bill-readiness: % estimated, % missing and open exceptions against tenant thresholds;
a usage point past any of them is held back with the reason (issue 7 §5)."""

from __future__ import annotations

from dataclasses import dataclass

from cimhub.billing.config import Readiness
from cimhub.billing.determinants import Determinants


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


def judge(d: Determinants, expected: int, open_exceptions: int, limits: Readiness) -> Verdict:
    """``expected``: intervals the period should hold on the main kWh channel.

    >>> from cimhub.billing.determinants import Determinants
    >>> v = judge(Determinants(present=90, estimated=20), 100, 0, Readiness(10.0, 5.0, None))
    >>> v.ready, v.reason
    (False, 'estimated 20.0% > 10.0%; missing 10.0% > 5.0%')
    """
    expected = max(expected, 1)
    estimated = round(100 * d.estimated / expected, 2)
    missing = round(100 * max(expected - d.present, 0) / expected, 2)
    reasons = []
    if limits.max_estimated_pct is not None and estimated > limits.max_estimated_pct:
        reasons.append(f"estimated {estimated}% > {limits.max_estimated_pct}%")
    if limits.max_missing_pct is not None and missing > limits.max_missing_pct:
        reasons.append(f"missing {missing}% > {limits.max_missing_pct}%")
    if limits.max_open_exceptions is not None and open_exceptions > limits.max_open_exceptions:
        reasons.append(
            f"{open_exceptions} open exception(s) > {limits.max_open_exceptions} allowed"
        )
    return Verdict(not reasons, estimated, missing, open_exceptions, tuple(reasons))
