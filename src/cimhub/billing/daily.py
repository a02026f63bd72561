"""One usage point's (or one meter's) day: energy per channel and TOU bucket, block
demand per bucket with its time, and the counts bill-readiness needs (seed 002 Annexure H:
"process the interval reads into daily … billing determinants").

Demand is block demand over clock-aligned blocks of the tariff's integration period (15
or 30 minutes, 15-minute data rolled up): block energy × 3600 / period. A block belongs to
the day and the TOU bucket of the minute it starts in; the earliest of equal blocks wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cimhub.billing.channel import ESTIMATED, MILLI, MISSING, Channel

#: Demand comes from these channels: kW from kWh import, kVA from kVAh import.
DEMAND = {Channel.KWH_IMPORT: "kw", Channel.KVAH_IMPORT: "kva"}


@dataclass(frozen=True, slots=True)
class Intervals:
    """Validated interval values of one channel, already in kWh (kVAh), ts = interval end."""

    interval: int
    timestamps: Sequence[int]
    values: Sequence[float]
    qualities: Sequence[str]


@dataclass(slots=True)
class Day:
    """Daily determinants; energies in mWh, demand as (mW, block end ts): integers."""

    energy: dict[str, int] = field(default_factory=dict)
    tou: dict[str, dict[int, int]] = field(default_factory=dict)
    md: dict[str, tuple[int, int]] = field(default_factory=dict)
    md_tou: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)
    present: int = 0  #: kWh import intervals with a value
    estimated: int = 0
    missing: int = 0
    interval: int = 0
    demand_seconds: int = 0

    def to_data(self) -> dict[str, Any]:
        """A JSON-able document (the daily aggregate row)."""
        return {
            "energy": self.energy,
            "tou": {c: {str(b): v for b, v in t.items()} for c, t in self.tou.items()},
            "md": {k: list(v) for k, v in self.md.items()},
            "md_tou": {k: {str(b): list(v) for b, v in t.items()} for k, t in self.md_tou.items()},
            "present": self.present,
            "estimated": self.estimated,
            "missing": self.missing,
            "interval": self.interval,
            "demand_seconds": self.demand_seconds,
        }

    @classmethod
    def from_data(cls, d: Mapping[str, Any]) -> Day:
        return cls(
            dict(d["energy"]),
            {c: {int(b): v for b, v in t.items()} for c, t in d["tou"].items()},
            {k: (v[0], v[1]) for k, v in d["md"].items()},
            {k: {int(b): (v[0], v[1]) for b, v in t.items()} for k, t in d["md_tou"].items()},
            d["present"],
            d["estimated"],
            d["missing"],
            d["interval"],
            d["demand_seconds"],
        )


def aggregate_day(
    channels: Mapping[Channel, Intervals],
    *,
    day_start: int,
    buckets: Sequence[int],
    bucket_minutes: int,
    demand_seconds: int,
) -> Day:
    """Aggregate the intervals ending in (day_start, day_start + 24 h] of each channel.

    ``buckets`` holds the TOU bucket of every ``bucket_minutes`` step of the local day.
    """
    day = Day(demand_seconds=demand_seconds)
    step = bucket_minutes * 60
    names = sorted(set(buckets))
    for channel, data in channels.items():
        total, per_bucket = 0, dict.fromkeys(names, 0)
        blocks: dict[int, int] = {}
        period = max(demand_seconds, data.interval)
        present = estimated = missing = 0
        begins = day_start + data.interval  # an interval's end minus this is its start offset
        for ts, value, quality in zip(data.timestamps, data.values, data.qualities, strict=True):
            offset = ts - begins  # interval start, seconds into the day
            if not 0 <= offset < 86_400:
                continue
            if MISSING in quality:
                missing += 1
                continue
            milli = round(value * MILLI)  # to_milli, inline: this loop sees every reading
            total += milli
            per_bucket[buckets[offset // step]] += milli
            block = offset // period
            blocks[block] = blocks.get(block, 0) + milli
            present += 1
            estimated += ESTIMATED in quality
        day.energy[channel.value] = total
        day.tou[channel.value] = per_bucket
        if channel is Channel.KWH_IMPORT:
            day.interval = data.interval
            day.present += present
            day.estimated += estimated
            day.missing += missing
        if channel in DEMAND and blocks:
            _demand(day, DEMAND[channel], blocks, period, day_start, buckets, step)
    return day


def _demand(
    day: Day,
    name: str,
    blocks: Mapping[int, int],
    period: int,
    day_start: int,
    buckets: Sequence[int],
    step: int,
) -> None:
    best: tuple[int, int] | None = None
    per_bucket: dict[int, tuple[int, int]] = {}
    for index in sorted(blocks):
        # mWh × 3600 / period = mW, exact for 15-, 30- and 60-minute blocks
        energy, end = blocks[index] * 3600 // period, day_start + (index + 1) * period
        bucket = buckets[index * period // step]
        if best is None or energy > best[0]:
            best = (energy, end)
        if bucket not in per_bucket or energy > per_bucket[bucket][0]:
            per_bucket[bucket] = (energy, end)
    if best is not None:
        day.md[name] = best
    day.md_tou[name] = per_bucket
