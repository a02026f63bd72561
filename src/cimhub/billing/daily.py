"""One usage point's (or one meter's) day: energy per channel and TOU bucket, block
demand per bucket with its time, and the counts bill-readiness needs (seed 002 Annexure H:
"process the interval reads into daily … billing determinants").

Demand is block demand over clock-aligned blocks of the tariff's integration period (15
or 30 minutes, 15-minute data rolled up): block energy × 3600 / period. A block belongs to
the day and the TOU bucket of the minute it starts in; the earliest of equal blocks wins.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cimhub.billing.channel import ESTIMATED, MILLI, MISSING, Channel

_TO_MILLI = float(MILLI).__mul__
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
    """Aggregate the intervals ending in (day_start, day_start + 24 h] of each channel
    (its timestamps sorted, each once).

    ``buckets`` holds the TOU bucket of every ``bucket_minutes`` step of the local day.
    """
    day = Day(demand_seconds=demand_seconds)
    runs = _runs(tuple(buckets), bucket_minutes * 60)
    names = sorted({bucket for _, _, bucket in runs})
    for channel, data in channels.items():
        period = max(demand_seconds, data.interval)
        begins = day_start + data.interval  # an interval's end minus this is its start offset
        # the day's readings, a slice of the sorted stamps, then a column at a time: this
        # sees every reading ingest stores (C loops, not a Python statement a reading)
        stamps = data.timestamps
        first, last = bisect_left(stamps, begins), bisect_left(stamps, begins + 86_400)
        stamps, values = stamps[first:last], data.values[first:last]
        missing, estimated, kept = _counts(data.qualities[first:last])
        if kept is not None:
            stamps, values = [stamps[i] for i in kept], [values[i] for i in kept]
        milli = list(map(round, map(_TO_MILLI, values)))  # round(value * MILLI)
        per_bucket = dict.fromkeys(names, 0)
        for start, end, bucket in runs:
            i, j = bisect_left(stamps, begins + start), bisect_left(stamps, begins + end)
            per_bucket[bucket] += sum(milli[i:j])
        day.energy[channel.value] = sum(milli)
        day.tou[channel.value] = per_bucket
        if channel is Channel.KWH_IMPORT:
            day.interval = data.interval
            day.present += len(milli)
            day.estimated += estimated
            day.missing += missing
        if channel in DEMAND and milli:
            order, energy = _blocks(stamps, milli, begins, period)
            _demand(day, DEMAND[channel], order, energy, period, day_start, runs)
    return day


def _counts(qualities: Sequence[str]) -> tuple[int, int, list[int] | None]:
    """(missing, estimated of the rest, indexes of the rest when some are missing)."""
    if qualities and qualities.count(qualities[0]) == len(qualities):  # one quality: C
        kinds = {qualities[0]: len(qualities)}
    else:
        kinds = Counter(qualities)
    missing = sum(n for quality, n in kinds.items() if MISSING in quality)
    estimated = sum(n for q, n in kinds.items() if ESTIMATED in q and MISSING not in q)
    if not missing:
        return 0, estimated, None
    return missing, estimated, [i for i, q in enumerate(qualities) if MISSING not in q]


#: A day's TOU buckets as runs of steps: (first second, end second, bucket), in order.
Runs = tuple[tuple[int, int, int], ...]


@lru_cache(maxsize=256)  # a few calendars and day types
def _runs(buckets: tuple[int, ...], step: int) -> Runs:
    """The day's TOU buckets as runs: (first second, end second, bucket), in order."""
    out: list[tuple[int, int, int]] = []
    for i, bucket in enumerate(buckets):
        if out and out[-1][2] == bucket:
            out[-1] = (out[-1][0], (i + 1) * step, bucket)
        else:
            out.append((i * step, (i + 1) * step, bucket))
    return tuple(out)


def _blocks(
    stamps: Sequence[int], milli: list[int], begins: int, period: int
) -> tuple[Sequence[int], list[int]]:
    """The demand blocks (index of the block an interval starts in) in order, and the
    power of each (mW): mWh × 3600 / period, exact for 15-, 30- and 60-minute blocks."""
    first = stamps[0] - begins
    if first % period == 0 and list(stamps) == list(range(stamps[0], stamps[-1] + 1, period)):
        order: Sequence[int] = range(first // period, first // period + len(milli))
        energy = milli  # a block an interval (period = interval)
    else:
        blocks: dict[int, int] = {}
        for ts, mwh in zip(stamps, milli, strict=True):
            block = (ts - begins) // period
            blocks[block] = blocks.get(block, 0) + mwh
        order = sorted(blocks)
        energy = list(map(blocks.__getitem__, order))
    return order, list(map(period.__rfloordiv__, map((3600).__mul__, energy)))


def _demand(
    day: Day,
    name: str,
    order: Sequence[int],
    power: list[int],
    period: int,
    day_start: int,
    runs: Runs,
) -> None:
    """The day's maximum demand and each TOU bucket's: the earliest of equal blocks."""
    starts = list(map(period.__mul__, order))

    def peak(first: int, last: int) -> tuple[int, int]:
        part = power[first:last]
        top = max(part)
        return top, day_start + (order[first + part.index(top)] + 1) * period

    day.md[name] = peak(0, len(order))
    per_bucket: dict[int, tuple[int, int]] = {}
    for start, end, bucket in runs:  # in time order: a bucket's earlier run wins a tie
        first, last = bisect_left(starts, start), bisect_left(starts, end)
        if first < last:
            found = peak(first, last)
            if bucket not in per_bucket or found[0] > per_bucket[bucket][0]:
                per_bucket[bucket] = found
    day.md_tou[name] = per_bucket
