"""Billing cycles: a cycle named 'YYYY-MM' runs from its cycle day of that month to the
cycle day of the next, in the tenant's zone; local days and their UTC bounds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cimhub.errors import InvalidValueError

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Cycle:
    name: str
    first: date  #: first local day
    end: date  #: first local day after the period

    def days(self) -> Iterator[date]:
        day = self.first
        while day < self.end:
            yield day
            day += timedelta(days=1)

    def bounds(self, zone: ZoneInfo) -> tuple[int, int]:
        """(start, end] in UTC epoch seconds."""
        return day_start(self.first, zone), day_start(self.end, zone)


def parse_cycle(name: str, cycle_day: int = 1) -> Cycle:
    """The cycle named ``name`` ("YYYY-MM").

    >>> parse_cycle("2024-12", 5)
    Cycle(name='2024-12', first=datetime.date(2024, 12, 5), end=datetime.date(2025, 1, 5))
    """
    try:
        year, month = (int(p) for p in name.split("-"))
        first = date(year, month, cycle_day)
    except ValueError:
        raise InvalidValueError(f"cycle {name!r} is not YYYY-MM") from None
    end = date(year + month // 12, month % 12 + 1, cycle_day)
    return Cycle(name, first, end)


def day_start(day: date, zone: ZoneInfo) -> int:
    """UTC epoch seconds of local midnight starting ``day``."""
    return int(datetime.combine(day, time(), zone).timestamp())


def local_day(ts: int, zone: ZoneInfo) -> date:
    """The local day an interval ENDING at ``ts`` lies in (its last second)."""
    return datetime.fromtimestamp(ts - 1, zone).date()


def day_number(day: date) -> int:
    return (day - EPOCH).days


def from_number(number: int) -> date:
    return EPOCH + timedelta(days=number)
