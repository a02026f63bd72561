"""Outages of a distribution transformer (DT), told by the outages of the meters under it.

A DT is out when at least ``share`` of its meters lost supply within ``window`` seconds of
one another and are still off; it is restored when so many came back that fewer than that
share are off. Like meter outages, DT outages are re-derived from all the meters' outages
whenever a meter's power events change, so late and out-of-order events settle the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Share of a DT's meters that must report power-off for a DT-level outage.
DEFAULT_SHARE = 0.6
#: Their power-offs within this many seconds of one another.
DEFAULT_WINDOW_SECONDS = 300

MeterOutage = tuple[int, int | None]  # start, end (None: still open)


@dataclass(frozen=True, slots=True)
class DtOutage:
    """Supply of a DT lost at ``start`` (the first of the meters that made it count) and,
    unless still open, restored at ``end``; ``meters_off`` at the worst moment."""

    start: int
    end: int | None
    meters_off: int
    meters_total: int


def needed(total: int, share: float) -> int:
    """How many meters must be off: the share of the total, rounded up, at least one.

    >>> needed(10, 0.6), needed(3, 0.6), needed(1, 0.6), needed(7, 1.0)
    (6, 2, 1, 7)
    """
    return max(1, math.ceil(total * share - 1e-9))


def derive_dt_outages(
    outages: Mapping[int, Sequence[MeterOutage]],
    total: int,
    share: float = DEFAULT_SHARE,
    window: int = DEFAULT_WINDOW_SECONDS,
) -> list[DtOutage]:
    """DT outages from the outages of its ``total`` meters (meter id → outages), oldest first.

    >>> off = {1: [(0, 600)], 2: [(100, 700)], 3: [(5000, None)]}
    >>> derive_dt_outages(off, 3)
    [DtOutage(start=0, end=600, meters_off=2, meters_total=3)]
    >>> derive_dt_outages(off, 3, window=50)  # two power-offs 100 s apart: no DT outage
    []
    """
    if total <= 0:
        return []
    k = needed(total, share)
    # (time, 0 = restore before 1 = loss at the same second, meter, start of that outage)
    moves = sorted(
        (t, order, meter, start)
        for meter, spans in outages.items()
        for start, end in spans
        for t, order in ((start, 1), (end, 0))
        if t is not None
    )
    off: dict[int, int] = {}  # meter → start of its open outage
    found: list[DtOutage] = []
    opened: int | None = None
    worst = 0
    for t, order, meter, start in moves:
        if order == 1:
            off[meter] = start
            recent = sorted(s for s in off.values() if s >= t - window)
            if opened is None and len(recent) >= k:
                opened, worst = recent[0], len(off)
            elif opened is not None:
                worst = max(worst, len(off))
        else:
            off.pop(meter, None)
            if opened is not None and len(off) < k:
                found.append(DtOutage(opened, t, worst, total))
                opened = None
    if opened is not None:
        found.append(DtOutage(opened, None, worst, total))
    return found
