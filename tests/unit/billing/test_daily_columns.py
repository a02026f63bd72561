"""The daily aggregate, computed a column at a time, against its definition written a
reading at a time: every interval ending in the day, by the minute it starts in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from cimhub.billing.channel import ESTIMATED, MILLI, MISSING, Channel
from cimhub.billing.daily import DEMAND, Day, Intervals, aggregate_day

DAY_START = 1_717_353_000  # 2024-06-03 00:00 IST
QUALITIES = ["3.0.1", "3.0.1", "3.8.0", "3.8.0 3.5.259", "3.5.259", "3.7.0", "3.6.0 3.8.0"]


def by_definition(
    channels: Mapping[Channel, Intervals], buckets: Sequence[int], step: int, demand: int
) -> Day:
    day = Day(demand_seconds=demand)
    for channel, data in channels.items():
        total, per_bucket, blocks = 0, dict.fromkeys(sorted(set(buckets)), 0), {}
        period = max(demand, data.interval)
        present = estimated = missing = 0
        for ts, value, quality in zip(data.timestamps, data.values, data.qualities, strict=True):
            offset = ts - data.interval - DAY_START  # the interval's start, into the day
            if not 0 <= offset < 86_400:
                continue
            if MISSING in quality:
                missing += 1
                continue
            milli = round(value * MILLI)
            total += milli
            per_bucket[buckets[offset // step]] += milli
            blocks[offset // period] = blocks.get(offset // period, 0) + milli
            present += 1
            estimated += ESTIMATED in quality
        day.energy[channel.value], day.tou[channel.value] = total, per_bucket
        if channel is Channel.KWH_IMPORT:
            day.interval = data.interval
            day.present, day.estimated, day.missing = present, estimated, missing
        if channel in DEMAND and blocks:
            best, per_tou = None, {}
            for index in sorted(blocks):  # the earliest of equal blocks
                power, end = blocks[index] * 3600 // period, DAY_START + (index + 1) * period
                bucket = buckets[index * period // step]
                if best is None or power > best[0]:
                    best = (power, end)
                if bucket not in per_tou or power > per_tou[bucket][0]:
                    per_tou[bucket] = (power, end)
            day.md[DEMAND[channel]], day.md_tou[DEMAND[channel]] = best, per_tou
    return day


@st.composite
def series(draw: st.DrawFn, interval: int) -> Intervals:
    """Sorted, distinct stamps around the day (some before, some after), some off the
    grid; values in kWh, whole numbers among them; qualities with estimates and gaps."""
    slots = range(-6, 86_400 // interval + 6)
    chosen = draw(st.sets(st.sampled_from(slots), max_size=len(slots)))
    jitter = draw(st.sampled_from([0, 0, 7, interval // 3]))
    stamps = sorted(DAY_START + (slot + 1) * interval + (slot % 5 == 0) * jitter for slot in chosen)
    values = draw(
        st.lists(
            st.one_of(st.floats(0, 12, allow_nan=False), st.integers(0, 9)),
            min_size=len(stamps),
            max_size=len(stamps),
        )
    )
    size = len(stamps)
    qualities = draw(st.lists(st.sampled_from(QUALITIES), min_size=size, max_size=size))
    return Intervals(interval, stamps, values, qualities)


@st.composite
def tou_buckets(draw: st.DrawFn) -> list[int]:
    """A day of 5-minute steps in runs of TOU buckets (288 entries)."""
    cuts = sorted(draw(st.sets(st.integers(1, 287), max_size=8)))
    names = draw(st.lists(st.integers(1, 4), min_size=len(cuts) + 1, max_size=len(cuts) + 1))
    out: list[int] = []
    for start, end, name in zip([0, *cuts], [*cuts, 288], names, strict=True):
        out += [name] * (end - start)
    return out


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    interval=st.sampled_from([900, 1800]),
    demand=st.sampled_from([900, 1800]),
    buckets=tou_buckets(),
)
def test_aggregating_a_column_at_a_time_is_the_definition(
    data: st.DataObject, interval: int, demand: int, buckets: list[int]
) -> None:
    channels = {
        channel: data.draw(series(interval))
        for channel in (Channel.KWH_IMPORT, Channel.KVAH_IMPORT, Channel.KWH_EXPORT)
    }
    found = aggregate_day(
        channels, day_start=DAY_START, buckets=buckets, bucket_minutes=5, demand_seconds=demand
    )
    assert found == by_definition(channels, buckets, 300, demand)
