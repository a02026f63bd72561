"""Local days, day types and day profiles: what like-day methods compare."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, timedelta

from cimhub.vee.batch import DAY, Scope
from cimhub.vee.config import Params
from cimhub.vee.context import DayProfile
from cimhub.vee.quality import VALIDATED

EPOCH = date(1970, 1, 1)


def day_type(day: int, params: Params) -> str:
    """'holiday', 'weekend' (Saturday, Sunday) or 'weekday' of a local day number.

    >>> day_type(0, Params())  # 1970-01-01 was a Thursday
    'weekday'
    """
    when = EPOCH + timedelta(days=day)
    if params.holidays and when.isoformat() in params.holidays:
        return "holiday"
    return "weekend" if when.weekday() >= 5 else "weekday"


def slots_per_day(interval: int) -> int:
    return DAY // interval


def grid_days(scope: Scope, bad: Collection[int] = ()) -> dict[int, DayProfile]:
    """The batch's own days as profiles; a day is clean when complete, with supply all
    day (no outage, relay never open), and none of its intervals is in ``bad``
    (timestamps that failed a rule)."""
    grid, step = scope.grid, scope.batch.interval
    per_day = slots_per_day(step)
    days: dict[int, list[float | None]] = {}
    dirty: set[int] = set()
    offset = scope.params.utc_offset_minutes * 60
    for ts, value in zip(grid.timestamps, grid.values, strict=True):
        local = ts - step + offset
        day = local // DAY
        slot = (local % DAY) // step
        row = days.get(day)
        if row is None:
            row = days[day] = [None] * per_day
        row[slot] = value
        if value is None or ts in bad or scope.in_outage(ts) or scope.disconnected(ts):
            dirty.add(day)
    return {
        day: DayProfile(day, tuple(row), day not in dirty and None not in row)
        for day, row in days.items()
    }


def like_days(
    day: int, profiles: Mapping[int, DayProfile], params: Params, *, before_only: bool = True
) -> list[DayProfile]:
    """The ``like_days`` nearest clean days of the same day type within the lookback."""
    kind = day_type(day, params)
    picked = []
    for distance in range(1, params.like_day_lookback_days + 1):
        for candidate in (day - distance,) if before_only else (day - distance, day + distance):
            profile = profiles.get(candidate)
            if profile and profile.clean and day_type(candidate, params) == kind:
                picked.append(profile)
                if len(picked) == params.like_days:
                    return picked
    return picked


def profiles_from(
    stamps: Sequence[int],
    values: Sequence[float],
    qualities: Sequence[str],
    interval: int,
    params: Params,
    *,
    outages: Sequence[tuple[int, int]] = (),
) -> dict[int, DayProfile]:
    """Day profiles of stored validated intervals; a day is clean when complete, every
    value in it was measured and passed VEE (quality exactly ``3.0.1``) and none of its
    intervals overlaps one of the ``outages`` ((start, end] pairs)."""
    per_day = slots_per_day(interval)
    offset = params.utc_offset_minutes * 60
    days: dict[int, list[float | None]] = {}
    dirty: set[int] = set()
    for ts, value, q in zip(stamps, values, qualities, strict=True):
        local = ts - interval + offset
        day = local // DAY
        row = days.get(day)
        if row is None:
            row = days[day] = [None] * per_day
        row[(local % DAY) // interval] = value
        if q != VALIDATED or (outages and any(a < ts and ts - interval < b for a, b in outages)):
            dirty.add(day)
    return {
        day: DayProfile(day, tuple(row), day not in dirty and None not in row)
        for day, row in days.items()
    }
