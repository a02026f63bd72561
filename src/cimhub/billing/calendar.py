"""TOU calendars: seasons, day types and time slots mapped to TOU buckets (seed 002 §2.4.5 a).

Times are minutes of the local day in the tenant's zone. A slot whose end is before its
start spans midnight: "22:00–06:00" covers the end of every day of its day type and the
start of every day of its day type (each local day follows its own day type). Minutes no
slot covers fall into the calendar's default bucket. An interval belongs to the bucket of
the minute it starts in; a demand block likewise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from cimhub.errors import InvalidValueError

WEEKDAY, WEEKEND, HOLIDAY = "weekday", "weekend", "holiday"
DAY_TYPES = (WEEKDAY, WEEKEND, HOLIDAY)
#: A day type a season does not plan for borrows the plan of the next one in this chain.
FALLBACK = {HOLIDAY: WEEKEND, WEEKEND: WEEKDAY}
MINUTES = 24 * 60
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class Slot:
    """[start, end) minutes of the local day → a TOU bucket (end 1440 = 24:00)."""

    start: int
    end: int
    bucket: int

    def covers(self, minute: int) -> bool:
        """Whether the slot covers ``minute``.

        >>> Slot(22 * 60, 6 * 60, 3).covers(23 * 60), Slot(22 * 60, 6 * 60, 3).covers(60)
        (True, True)
        >>> Slot(9 * 60, 17 * 60, 2).covers(17 * 60)
        False
        """
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


def parse_time(text: str) -> int:
    """'HH:MM' → minutes; '24:00' is the end of the day.

    >>> parse_time("17:30"), parse_time("24:00")
    (1050, 1440)
    """
    try:
        hours, minutes = (int(p) for p in text.split(":"))
    except ValueError:
        raise InvalidValueError(f"time {text!r} is not HH:MM") from None
    value = hours * 60 + minutes
    if not 0 <= minutes < 60 or not 0 <= value <= MINUTES:
        raise InvalidValueError(f"time {text!r} is outside 00:00–24:00")
    return value


@dataclass(frozen=True, slots=True)
class Season:
    """Months of the year and, per day type, its slots."""

    name: str
    months: frozenset[int]
    plans: Mapping[str, tuple[Slot, ...]]

    def slots(self, day_type: str) -> tuple[Slot, ...]:
        kind: str | None = day_type
        while kind is not None:
            if kind in self.plans:
                return self.plans[kind]
            kind = FALLBACK.get(kind)
        return ()


@dataclass(frozen=True, slots=True)
class TouCalendar:
    """A named calendar: buckets (number → name), seasons, and a default bucket."""

    code: str
    seasons: tuple[Season, ...] = ()
    buckets: Mapping[int, str] = field(default_factory=lambda: {1: "normal"})
    default_bucket: int = 1

    def season(self, day: date) -> Season | None:
        return next((s for s in self.seasons if day.month in s.months), None)

    def day_buckets(self, day: date, day_type: str, step_minutes: int) -> list[int]:
        """The bucket of every step of a local day (96 entries for 15 minutes)."""
        season = self.season(day)
        slots = season.slots(day_type) if season else ()
        out = []
        for minute in range(0, MINUTES, step_minutes):
            hit = next((s.bucket for s in slots if s.covers(minute)), self.default_bucket)
            out.append(hit)
        return out


@dataclass(frozen=True, slots=True)
class DayTypes:
    """Which local days are weekends and holidays (a holiday list per tenant)."""

    weekend: frozenset[int] = frozenset({6})  # date.weekday(): Sunday
    holidays: frozenset[date] = frozenset()

    def of(self, day: date) -> str:
        """Weekday, weekend or holiday.

        >>> DayTypes(holidays=frozenset({date(2024, 8, 15)})).of(date(2024, 8, 15))
        'holiday'
        """
        if day in self.holidays:
            return HOLIDAY
        return WEEKEND if day.weekday() in self.weekend else WEEKDAY


def parse_calendar(code: str, doc: Mapping[str, object]) -> TouCalendar:
    """A calendar from its configuration document (see README, Billing)."""
    buckets = {int(k): str(v) for k, v in _mapping(doc.get("buckets", {"1": "normal"})).items()}
    default = int(str(doc.get("default_bucket", min(buckets))))
    seasons = []
    for item in _list(doc.get("seasons", [])):
        s = _mapping(item)
        plans = {}
        for day_type, slots in _mapping(s.get("day_types", {})).items():
            if day_type not in DAY_TYPES:
                raise InvalidValueError(f"calendar {code!r}: unknown day type {day_type!r}")
            plans[day_type] = tuple(_slot(code, x, buckets) for x in _list(slots))
        months = frozenset(int(m) for m in _list(s.get("months", list(range(1, 13)))))
        seasons.append(Season(str(s.get("name", "")), months, plans))
    return TouCalendar(code, tuple(seasons), buckets, default)


def _slot(code: str, item: object, buckets: Mapping[int, str]) -> Slot:
    start, end, bucket = _list(item)
    slot = Slot(parse_time(str(start)), parse_time(str(end)), int(str(bucket)))
    if slot.bucket not in buckets:
        raise InvalidValueError(f"calendar {code!r}: slot names unknown bucket {slot.bucket}")
    if slot.start == slot.end:
        raise InvalidValueError(f"calendar {code!r}: slot {start}–{end} is empty")
    return slot


def _mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"expected a table, got {value!r}")
    return {str(k): v for k, v in value.items()}


def _list(value: object) -> list[object]:
    if not isinstance(value, Iterable) or isinstance(value, str | Mapping):
        raise InvalidValueError(f"expected a list, got {value!r}")
    return list(value)
