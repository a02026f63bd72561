"""Deterministic HES traffic for the benchmarks: the same bytes in every run of a month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cimhub.testing.messages import created_meter_readings


def last_month(today: date) -> datetime:
    """The first day of the month before ``today``'s: traffic as recent as a head-end's, so
    VEE judges it as it would live data — dated further back, every reading would be past
    the age limit (time.old, 90 days) and VEE's cost measured on an all-suspect stream.

    >>> last_month(date(2026, 12, 6)), last_month(date(2027, 1, 31))
    (datetime.datetime(2026, 11, 1, 0, 0, tzinfo=datetime.timezone.utc), \
datetime.datetime(2026, 12, 1, 0, 0, tzinfo=datetime.timezone.utc))
    """
    first = today.replace(day=1) - timedelta(days=1)
    return datetime(first.year, first.month, 1, tzinfo=UTC)


#: Ingest traffic starts here: day 0 warms up, timed days follow within the month.
START = last_month(datetime.now(UTC).date())
SOURCE = "HES-BENCH"


@dataclass(frozen=True, slots=True)
class Traffic:
    """Messages of ``size`` meters × ``intervals`` readings; ``warmup`` is not timed."""

    size: int
    intervals: int
    warmup: list[bytes]
    messages: list[bytes]

    @property
    def label(self) -> str:
        return size_label(self.size, self.intervals)

    @property
    def readings(self) -> int:
        return len(self.messages) * self.size * self.intervals


def size_label(size: int, intervals: int = 96) -> str:
    return f"{size:,}×{intervals}".replace(",", " ")


def message(meters: range, day: int, intervals: int, tag: str, start: datetime = START) -> bytes:
    """One CreatedMeterReadings for ``meters`` on ``day`` after ``start``."""
    first = start + timedelta(days=day)
    return created_meter_readings(
        list(meters),
        first,
        intervals,
        message_id=f"bench-{tag}-{day}-{meters.start}-{meters.stop}",
        source=SOURCE,
        sent_at=first + timedelta(days=1, minutes=5),
    )


def traffic(
    size: int, population: int, readings: int, intervals: int = 96, start: datetime = START
) -> Traffic:
    """Day 0 registers all ``population`` meters (untimed); then day after day, each day's
    meters in messages of ``size``, until ``readings`` readings; days begin at ``start``'s
    time of day (UTC midnight by default)."""
    per_day = max(1, population // size)
    count = max(1, readings // (size * intervals))
    warmup = [message(range(1, population + 1), 0, intervals, "warm", start)]
    warmup += [
        message(range(1 + c * size, 1 + (c + 1) * size), 0, intervals, f"warm{size}", start)
        for c in range(min(per_day, 3))
    ]
    messages = []
    for i in range(count):
        day, chunk = 1 + i // per_day, i % per_day
        meters = range(1 + chunk * size, 1 + (chunk + 1) * size)
        messages.append(message(meters, day, intervals, f"m{size}", start))
    return Traffic(size, intervals, warmup, messages)
