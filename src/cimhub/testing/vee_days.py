"""Recent local days for VEE tests through the store (and their messages' helpers).

``WEDNESDAY`` is the local (IST) midnight opening the latest Wednesday that ended two days
ago or more: old enough for the re-acquisition wait, recent enough for the old-date
rule, and a fixed day type, so like-day expectations can be computed by hand.
"""

from __future__ import annotations

import time

IST, STEP, DAY = 330 * 60, 900, 86_400


def _wednesday() -> int:
    day = (int(time.time()) + IST) // DAY - 3
    while (day + 3) % 7 != 2:  # 1970-01-01 was a Thursday: (day + 3) % 7 is Monday = 0
        day -= 1
    return day * DAY - IST


WEDNESDAY = _wednesday()


def at(day: int, hour: float) -> int:
    """The interval end at local ``hour`` of the day ``WEDNESDAY + day``."""
    return WEDNESDAY + day * DAY + int(hour * 3600)


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def day_of(base: float, day: int = 0) -> dict[int, float]:
    """96 intervals of day ``WEDNESDAY + day``: ``base`` plus a wobble of the slot (so no
    run of equal values is a flat line), the same on every day."""
    return {at(day, 0) + STEP * (i + 1): round(base + 0.001 * (i % 7), 3) for i in range(96)}


def with_zeros(
    values: dict[int, float], first: int, last: int, lost: tuple[int, ...] = ()
) -> dict[int, float]:
    """``values`` with zeros for the intervals ending in (first, last], and those ending
    at ``lost`` never sent."""
    out = {ts: 0.0 if first < ts <= last else v for ts, v in values.items()}
    for ts in lost:
        del out[ts]
    return out
