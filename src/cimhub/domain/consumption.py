"""Energy used at a site across meter changes, from cumulative register reads.

Each installation of a meter contributes (its read at the end of the window − its read at
the start) × its multiplier. A meter replacement stores the old meter's final read and the
new meter's initial read at the replacement instant, so the sum is exact (seed 002
§2.4.3 e: "track & resolve energy usage across meter changes with no loss").
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Segment:
    """One meter's stay at the site, with its cumulative reads (ts ascending)."""

    meter: str
    start: int
    end: int | None
    timestamps: Sequence[int]
    values: Sequence[float]
    multiplier: float = 1.0


@dataclass(frozen=True, slots=True)
class Consumption:
    total: float
    parts: list[tuple[str, float]] = field(default_factory=list)  # (meter, its share)
    missing: list[str] = field(default_factory=list)  # meters without reads in the window


def value_at(timestamps: Sequence[int], values: Sequence[float], at: int) -> float | None:
    """The latest read at or before ``at``, or None.

    >>> value_at([10, 20], [1.0, 2.0], 15), value_at([10, 20], [1.0, 2.0], 5)
    (1.0, None)
    """
    i = bisect_right(timestamps, at)
    return values[i - 1] if i else None


def consumption(segments: Iterable[Segment], start: int, end: int) -> Consumption:
    """Energy over (start, end] summed over the segments that overlap it.

    A segment's opening value is its read at max(start, installed); when it has none
    that early, its first read inside the window stands in (and nothing before it counts).
    """
    total, parts, missing = 0.0, [], []
    for seg in segments:
        lo = max(start, seg.start)
        hi = end if seg.end is None else min(end, seg.end)
        if hi <= lo:
            continue
        first = value_at(seg.timestamps, seg.values, lo)
        if first is None:
            i = bisect_right(seg.timestamps, lo)
            first = seg.values[i] if i < len(seg.timestamps) and seg.timestamps[i] <= hi else None
        last = value_at(seg.timestamps, seg.values, hi)
        if first is None or last is None:
            missing.append(seg.meter)
            continue
        share = (last - first) * seg.multiplier
        parts.append((seg.meter, share))
        total += share
    return Consumption(total, parts, missing)
