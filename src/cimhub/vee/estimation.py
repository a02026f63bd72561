"""Estimation methods: linear interpolation, like-day history, register scaling, non-metered.

Each method fills a gap (a run of slots of an interval grid) and names itself; the engine
chooses among them per gap (see ``engine``). All work on plain lists and never on raw data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from cimhub.vee.batch import DAY
from cimhub.vee.calendar import like_days
from cimhub.vee.config import Params
from cimhub.vee.context import DayProfile

LINEAR = "linear_interpolation"
OUTAGE = "outage_zero"
DISCONNECTED = "disconnected_zero"  #: the relay was open: no supply
NEAREST = "nearest_value"
NON_METERED = "non_metered_load_profile"
SCALED = "+scaled_to_registers"
REGISTER_LINEAR = "register_interpolation"


def linear(left: float, right: float, count: int) -> list[float]:
    """``count`` values on the straight line between two known neighbours.

    >>> linear(1.0, 2.0, 3)
    [1.25, 1.5, 1.75]
    """
    step = (right - left) / (count + 1)
    return [left + step * (i + 1) for i in range(count)]


def like_day(
    stamps: Sequence[int],
    interval: int,
    profiles: Mapping[int, DayProfile],
    params: Params,
) -> list[float] | None:
    """Per interval: the average (or max) of the same slot on the N nearest clean days of
    the same day type (RfP §2.4.4 a: "max/avg of similar blocks of past X similar
    weekdays"). None when some interval has no reference day."""
    offset = params.utc_offset_minutes * 60
    pick: Callable[[list[float]], float] = (
        max if params.like_day_statistic == "max" else (lambda xs: sum(xs) / len(xs))
    )
    out = []
    chosen: dict[int, list[DayProfile]] = {}
    for ts in stamps:
        local = ts - interval + offset
        day, slot = local // DAY, (local % DAY) // interval
        refs = chosen.get(day)
        if refs is None:
            refs = chosen[day] = like_days(day, profiles, params, before_only=False)
        values = [v for r in refs if (v := r.values[slot]) is not None]
        if not values:
            return None
        out.append(pick(values))
    return out


def method_name(params: Params) -> str:
    return f"like_day_{params.like_day_statistic}_{params.like_days}"


def scale(values: list[float], target: float) -> list[float]:
    """Scale estimates so they add up to ``target`` (spread evenly if they sum to zero).

    >>> scale([1.0, 3.0], 8.0)
    [2.0, 6.0]
    """
    total = sum(values)
    if total > 0:
        return [v * target / total for v in values]
    return [target / len(values)] * len(values)


def non_metered(
    start: int,
    end: int,
    interval: int,
    connected_load_kw: float,
    hours_on: Sequence[tuple[float, float]],
    utc_offset_minutes: int = 330,
) -> tuple[list[int], list[float]]:
    """RfP §2.4.4 f: energy (kWh) of a non-metered point (street light, traffic signal) as
    connected load × the share of each interval inside its local operating hours.

    ``hours_on`` are local (from, to) hours; to < from wraps past midnight (18 → 6).

    >>> non_metered(0, 3600, 1800, 2.0, [(5.0, 6.0)])  # 05:30–06:00 and 06:00–06:30 IST
    ([1800, 3600], [1.0, 0.0])
    >>> non_metered(0, 3600, 3600, 2.0, [(5.0, 6.0)])  # hourly: 05:30–06:30 IST
    ([1800], [1.0])
    """
    offset = utc_offset_minutes * 60
    first = start - (start + offset) % interval + interval  # on the local grid
    stamps = list(range(first, end + 1, interval))
    values = []
    for ts in stamps:
        a = (ts - interval + offset) % DAY / 3600
        b = a + interval / 3600
        on = sum(_overlap(a, b, lo, hi) for lo, hi in _windows(hours_on))
        values.append(connected_load_kw * on)
    return stamps, values


def _windows(hours_on: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for lo, hi in hours_on:
        out.extend([(lo, 24.0), (0.0, hi)] if hi < lo else [(lo, hi)])
    return out


def _overlap(a: float, b: float, lo: float, hi: float) -> float:
    return max(0.0, min(b, hi) - max(a, lo))
