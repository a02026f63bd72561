"""A tenant's billing configuration: zone, TOU calendars and their effective-dated
assignments per tariff and consumer category, tariffs' demand integration, the billing
cycle day, the bill-readiness thresholds and the prepaid feed's timing. Parsed from one
document (TOML or JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cimhub.billing.calendar import WEEKDAY_NAMES, DayTypes, TouCalendar, parse_calendar
from cimhub.errors import InvalidValueError

FLAT = TouCalendar("flat")
EPOCH_DAY = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Calendar ``calendar`` applies from ``since`` to the tariff and/or category named
    (None matches any). The latest assignment in force wins; among those of the same
    date, the most specific (tariff and category > tariff > category > any)."""

    calendar: str
    since: date
    tariff: str | None = None
    category: str | None = None

    def matches(self, tariff: str | None, category: str | None) -> bool:
        return (self.tariff is None or self.tariff == tariff) and (
            self.category is None or self.category == category
        )

    @property
    def rank(self) -> tuple[date, int, int]:
        return (self.since, self.tariff is not None, self.category is not None)


@dataclass(frozen=True, slots=True)
class Readiness:
    """Thresholds past which a usage point is held back from billing (None: no limit)."""

    max_estimated_pct: float | None = 10.0
    max_missing_pct: float | None = 5.0
    max_open_exceptions: int | None = None


@dataclass(frozen=True, slots=True)
class BillingConfig:
    timezone: str = "Asia/Kolkata"
    calendars: Mapping[str, TouCalendar] = field(default_factory=lambda: {"flat": FLAT})
    assignments: tuple[Assignment, ...] = (Assignment("flat", EPOCH_DAY),)
    day_types: DayTypes = field(default_factory=DayTypes)
    demand_minutes: Mapping[str, int] = field(default_factory=dict)  # tariff → 15 | 30
    default_demand_minutes: int = 15
    cycle_day: int = 1
    readiness: Readiness = field(default_factory=Readiness)
    subtract_check_meters: bool = True
    #: the prepaid feed sends yesterday from this local hour on, and re-checks the days before
    prepaid_feed_hour: int = 1
    prepaid_feed_lookback_days: int = 3

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def calendar_for(self, tariff: str | None, category: str | None, day: date) -> TouCalendar:
        """The calendar in force on ``day`` for this tariff and category (flat if none)."""
        live = [a for a in self.assignments if a.since <= day and a.matches(tariff, category)]
        if not live:
            return FLAT
        return self.calendars[max(live, key=lambda a: a.rank).calendar]

    def demand_seconds(self, tariff: str | None) -> int:
        """The demand integration period of a tariff (rolled up from 15-minute data)."""
        minutes = self.demand_minutes.get(tariff or "", self.default_demand_minutes)
        return minutes * 60


def parse_config(doc: Mapping[str, object]) -> BillingConfig:
    """A BillingConfig from a parsed document; unknown zones, calendars, bad dates → 2.x."""
    zone = str(doc.get("timezone", "Asia/Kolkata"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValueError(f"unknown time zone {zone!r}") from None
    raw_calendars = _table(doc.get("calendars", {}))
    calendars = {"flat": FLAT} | {c: parse_calendar(c, _table(v)) for c, v in raw_calendars.items()}
    assignments = tuple(_assignment(_table(a), calendars) for a in _items(doc.get("assignments")))
    tariffs = {k: int(str(_table(v).get("demand_minutes", 15))) for k, v in _tariffs(doc).items()}
    if any(m not in (15, 30, 60) for m in tariffs.values()):
        raise InvalidValueError("demand_minutes must be 15, 30 or 60")
    cycle_day = int(str(doc.get("cycle_day", 1)))
    if not 1 <= cycle_day <= 28:
        raise InvalidValueError("cycle_day must be 1..28")
    return BillingConfig(
        timezone=zone,
        calendars=calendars,
        assignments=assignments or (Assignment("flat", EPOCH_DAY),),
        day_types=_day_types(doc),
        demand_minutes=tariffs,
        default_demand_minutes=int(str(doc.get("demand_minutes", 15))),
        cycle_day=cycle_day,
        readiness=_readiness(_table(doc.get("readiness", {}))),
        subtract_check_meters=bool(doc.get("subtract_check_meters", True)),
        **_prepaid_feed(_table(doc.get("prepaid_feed", {}))),
    )


def _prepaid_feed(p: Mapping[str, object]) -> dict[str, int]:
    hour, lookback = int(str(p.get("hour", 1))), int(str(p.get("lookback_days", 3)))
    if not 0 <= hour <= 23 or not 0 <= lookback <= 31:
        raise InvalidValueError("prepaid_feed: hour must be 0..23, lookback_days 0..31")
    return {"prepaid_feed_hour": hour, "prepaid_feed_lookback_days": lookback}


def _assignment(a: Mapping[str, object], calendars: Mapping[str, TouCalendar]) -> Assignment:
    code = str(a.get("calendar", ""))
    if code not in calendars:
        raise InvalidValueError(f"assignment names unknown calendar {code!r}")
    tariff, category = a.get("tariff"), a.get("category")
    return Assignment(
        code,
        _date(a.get("from", "1970-01-01")),
        str(tariff) if tariff is not None else None,
        str(category) if category is not None else None,
    )


def _day_types(doc: Mapping[str, object]) -> DayTypes:
    names = [str(n).lower() for n in _items(doc.get("weekend", ["sunday"]))]
    if any(n not in WEEKDAY_NAMES for n in names):
        raise InvalidValueError(f"weekend days must be among {', '.join(WEEKDAY_NAMES)}")
    holidays = frozenset(_date(d) for d in _items(doc.get("holidays")))
    return DayTypes(frozenset(WEEKDAY_NAMES.index(n) for n in names), holidays)


def _readiness(r: Mapping[str, object]) -> Readiness:
    def number(key: str, default: float | None) -> float | None:
        value = r.get(key, default)
        return None if value is None else float(str(value))

    exceptions = r.get("max_open_exceptions")
    return Readiness(
        number("max_estimated_pct", 10.0),
        number("max_missing_pct", 5.0),
        None if exceptions is None else int(str(exceptions)),
    )


def _tariffs(doc: Mapping[str, object]) -> Mapping[str, object]:
    return _table(doc.get("tariffs", {}))


def _date(value: object) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _table(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"expected a table, got {value!r}")
    return {str(k): v for k, v in value.items()}


def _items(value: object) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidValueError(f"expected a list, got {value!r}")
    return list(value)
