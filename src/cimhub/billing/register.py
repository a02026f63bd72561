"""Usage from cumulative register reads (Annexure H "Usage Calculated from Register Reads"):
current bill-period read − previous read, × the meter's multiplier, rollover and meter
changes handled.

Each meter's stay at the usage point is one segment; its opening read is the last read at
or before max(period start, installed) — a replacement stores the final and initial reads
at the change instant, so nothing is lost between meters. A read lower than the previous
one on a meter with ``dials`` digits rolled over: 10^dials is added.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise


@dataclass(frozen=True, slots=True)
class RegisterSegment:
    meter: str
    start: int
    end: int | None
    timestamps: Sequence[int]
    values: Sequence[float]
    multiplier: float = 1.0
    dials: int | None = None


@dataclass(frozen=True, slots=True)
class RegisterUsage:
    total: float
    parts: list[tuple[str, float]] = field(default_factory=list)
    rollovers: int = 0
    missing: list[str] = field(default_factory=list)


def advance(first: float, last: float, dials: int | None) -> tuple[float, int]:
    """Register advance from ``first`` to ``last`` and the rollovers it took.

    >>> advance(99_990.0, 15.0, 5)
    (25.0, 1)
    >>> advance(10.0, 15.0, 5)
    (5.0, 0)
    """
    if last >= first or not dials:
        return last - first, 0
    return last + 10.0**dials - first, 1


def register_usage(segments: Iterable[RegisterSegment], start: int, end: int) -> RegisterUsage:
    """Usage over (start, end] summed over the segments overlapping it."""
    total, parts, missing, rollovers = 0.0, [], [], 0
    for seg in segments:
        lo = max(start, seg.start)
        hi = end if seg.end is None else min(end, seg.end)
        if hi <= lo:
            continue
        reads = _window(seg, lo, hi)
        if len(reads) < 2:
            missing.append(seg.meter)
            continue
        used = 0.0
        for a, b in pairwise(reads):
            step, rolled = advance(a, b, seg.dials)
            used += step
            rollovers += rolled
        share = round(used * seg.multiplier, 6)
        parts.append((seg.meter, share))
        total += share
    return RegisterUsage(round(total, 6), parts, rollovers, missing)


def _window(seg: RegisterSegment, lo: int, hi: int) -> list[float]:
    """The reads bounding (lo, hi]: the last at or before lo, then every one up to hi."""
    i = bisect_right(seg.timestamps, lo)
    j = bisect_right(seg.timestamps, hi)
    first = i - 1 if i else i  # no read that early: the first inside the window stands in
    return list(seg.values[first:j])
