"""Consumer load: a plausible daily shape per category (domestic, commercial), rooftop solar
for net-metered consumers and noise — pure functions of (seed, meter, time), so a head-end
asked again for a period sends the very values it sent the first time."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

#: Indian Standard Time (UTC+05:30): the clock consumers live by, and TOU zones follow.
IST_OFFSET = 19_800
_MASK = (1 << 64) - 1


class Category(StrEnum):
    DOMESTIC = "domestic"
    COMMERCIAL = "commercial"


@dataclass(frozen=True, slots=True)
class Consumer:
    """What a meter measures: a category's shape scaled to the consumer's typical peak."""

    category: Category
    peak_kw: float  # evening peak (domestic) or working-hours demand (commercial)
    power_factor: float = 0.95
    pv_kw: float = 0.0  # rooftop PV under net metering: exports around noon


def unit_noise(*keys: int) -> float:
    """A uniform draw in [0, 1) determined by ``keys`` (splitmix64 over them)."""
    state = 0x9E3779B97F4A7C15
    for key in keys:
        state = (state ^ (key & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        state = (state ^ (state >> 31)) * 0x94D049BB133111EB & _MASK
        state ^= state >> 29
    return state / 2.0**64


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


def relative_demand(category: Category, hour: float, weekday: int, month: int) -> float:
    """Demand as a share of the consumer's peak at a local hour (0–24), weekday (0 Monday)
    and month (1–12); Indian summers (April–June) add cooling."""
    summer = 1.0 if month in (4, 5, 6) else 0.0
    if category is Category.COMMERCIAL:
        open_ = 1 / (1 + math.exp(-(hour - 9.5) * 2.5)) - 1 / (1 + math.exp(-(hour - 19.5) * 2.5))
        level = 0.12 + 0.85 * open_ * (1 - 0.12 * _bump(hour, 13.5, 0.7))
        level *= 1 + 0.15 * summer * _bump(hour, 15, 3)
        return level * (0.35 if weekday == 6 else 1.0)
    night_cooling = 0.3 * summer * (1.0 if hour >= 22 or hour < 5 else 0.0)
    return (
        0.18
        + 0.35 * _bump(hour, 7.5, 1.3)
        + 0.75 * _bump(hour, 20.5, 1.8)
        + 0.2 * summer * _bump(hour, 15, 3)
        + night_cooling
        + (0.08 if weekday >= 5 else 0.0) * _bump(hour, 12.5, 3)
    )


def solar_share(hour: float, clouds: float) -> float:
    """PV output as a share of capacity: a sine from 06:00 to 18:00, dimmed by clouds."""
    if not 6.0 < hour < 18.0:
        return 0.0
    return math.sin(math.pi * (hour - 6.0) / 12.0) ** 1.2 * (1.0 - 0.6 * clouds)


def local_time(epoch: int) -> tuple[float, int, int, int]:
    """(hour of day, weekday, month, local day number) in IST."""
    local = epoch + IST_OFFSET
    day = local // 86_400
    hour = (local % 86_400) / 3600
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    month = _month_of(day)
    return hour, weekday, month, day


def _month_of(day: int) -> int:
    """The civil month of a day number (days since 1970-01-01), Howard Hinnant's method."""
    z = day + 719_468
    doe = z - (z // 146_097) * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    mp = (5 * (doe - (365 * yoe + yoe // 4 - yoe // 100)) + 2) // 153
    return int(mp + 3 if mp < 10 else mp - 9)


def net_power_kw(consumer: Consumer, seed: int, meter: int, epoch: int) -> float:
    """Average net power (import > 0, export < 0) of a consumer in the interval ending at
    ``epoch`` (the mid-interval hour matters little at 15/30 minutes): shape × noise, an
    occasional appliance, minus its rooftop PV."""
    hour, weekday, month, day = local_time(epoch)
    load = consumer.peak_kw * relative_demand(consumer.category, hour, weekday, month)
    load *= 0.85 + 0.3 * unit_noise(seed, meter, epoch)
    if unit_noise(seed, meter, epoch, 1) > 0.94:  # a kettle, an iron, a pump
        load += 0.25 * consumer.peak_kw
    if consumer.pv_kw:
        load -= consumer.pv_kw * solar_share(hour, unit_noise(seed, meter, day, 2))
    return load
