"""A drifting meter clock: readings stamped off the grid by a slowly changing offset.

A meter whose real-time clock runs fast or slow stamps every block a little further from
the interval end (the simulator's 90 s a day: about a second per 15-minute block). Past
the time tolerance such a reading is not "off the grid" in the sense of the VEE standard's
extra intervals: the same offset, give or take a few seconds, stands on its neighbours, so
the interval it belongs to is known. Readings whose offsets jump about (a random stamp
7 minutes off between two on the grid) form no such chain and stay off the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cimhub.vee.config import Params


@dataclass(frozen=True, slots=True)
class DriftLimits:
    jitter: int  #: seconds the offset may change from one reading to the next
    largest: int  #: the largest offset aligned (below half an interval)
    readings: int  #: consecutive readings (distinct intervals) that show one clock


def limits(step: int, params: Params) -> DriftLimits:
    """The tenant's drift settings for a series of ``step`` seconds; an offset of half an
    interval or more cannot say which interval a reading belongs to."""
    largest = min(params.clock_drift_max_seconds, (step - 1) // 2)
    return DriftLimits(params.clock_drift_jitter_seconds, largest, params.clock_drift_min_readings)


def drifting(slots: Sequence[int], offsets: Sequence[int], limits: DriftLimits) -> set[int]:
    """Indexes of readings that belong to a drifting clock: each in a chain of readings in
    time order whose offsets from their grid points (``slots``) differ by at most
    ``jitter`` from one reading to the next, every offset at most ``largest``, spanning at
    least ``readings`` intervals. A reading sent twice (one slot) stays in its chain.

    >>> lim = DriftLimits(jitter=10, largest=300, readings=3)
    >>> sorted(drifting([900, 1800, 2700, 3600], [58, 60, 61, 62], lim))
    [0, 1, 2, 3]
    >>> sorted(drifting([900, 1800, 2700], [0, -420, 0], lim))
    []
    """
    chosen: set[int] = set()
    chain: list[int] = []
    for i, offset in enumerate(offsets):
        if abs(offset) > limits.largest:
            _close(chain, slots, limits, chosen)
            chain = []
            continue
        if chain and not _follows(chain[-1], i, slots, offsets, limits):
            _close(chain, slots, limits, chosen)
            chain = []
        chain.append(i)
    _close(chain, slots, limits, chosen)
    return chosen


def drifting_after(
    known_slots: Sequence[int],
    known_offsets: Sequence[int],
    slots: Sequence[int],
    offsets: Sequence[int],
    limits: DriftLimits,
) -> set[int]:
    """``drifting`` for readings that follow the series' earlier ones (``known_*``, from
    earlier batches): a chain begun there goes on, its earlier readings count towards
    ``readings``; the indexes are the later readings'. A head-end that sends a block or
    two a message is judged as if the blocks had come together.

    >>> lim = DriftLimits(jitter=10, largest=300, readings=3)
    >>> drifting_after([900, 1800], [59, 60], [2700], [61], lim)
    {0}
    >>> drifting_after([900, 1800], [0, 0], [2700], [200], lim)
    set()
    """
    n = len(known_slots)
    chained = drifting([*known_slots, *slots], [*known_offsets, *offsets], limits)
    return {i - n for i in chained if i >= n}


def _follows(
    last: int, i: int, slots: Sequence[int], offsets: Sequence[int], limits: DriftLimits
) -> bool:
    return slots[i] >= slots[last] and abs(offsets[i] - offsets[last]) <= limits.jitter


def _close(chain: list[int], slots: Sequence[int], limits: DriftLimits, chosen: set[int]) -> None:
    if len({slots[i] for i in chain}) >= limits.readings:
        chosen.update(chain)
