"""Billing determinants by hand: TOU slots, holidays, calendar changes, demand, net
metering, check meters, register usage (issue 7 "Tests")."""

from __future__ import annotations

import doctest
import importlib
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from cimhub.billing.calendar import DayTypes, TouCalendar, parse_calendar
from cimhub.billing.channel import MILLI, Channel
from cimhub.billing.config import parse_config
from cimhub.billing.cycle import day_start, parse_cycle
from cimhub.billing.daily import Day, Intervals, aggregate_day
from cimhub.billing.determinants import combine
from cimhub.billing.register import RegisterSegment, advance, register_usage

IST = ZoneInfo("Asia/Kolkata")
WORKDAYS = DayTypes()
MONDAY = date(2024, 6, 3)
MH = {  # Maharashtra ToD: solar 09–17, peak 17–24 (reference/india-metering.md §6)
    "buckets": {"1": "normal", "2": "solar", "3": "peak"},
    "seasons": [{"name": "all", "day_types": {"weekday": [["09:00", "17:00", 2],
                                                          ["17:00", "24:00", 3]]}}],
}  # fmt: skip
NIGHT = {"buckets": {"1": "day", "3": "night"}, "seasons": [
    {"name": "all", "day_types": {"weekday": [["22:00", "06:00", 3]], "weekend": []}}]}  # fmt: skip


def day_of(values: list[float], day: date = MONDAY, step: int = 900) -> Intervals:
    start = day_start(day, IST)
    stamps = [start + (i + 1) * step for i in range(len(values))]
    return Intervals(step, stamps, values, ["3.0.1"] * len(values))


def run(calendar: TouCalendar, channels: dict[Channel, Intervals], *, day: date = MONDAY,
        demand: int = 900, day_types: DayTypes = WORKDAYS) -> Day:  # fmt: skip
    buckets = calendar.day_buckets(day, day_types.of(day), 5)
    return aggregate_day(channels, day_start=day_start(day, IST), buckets=buckets,
                         bucket_minutes=5, demand_seconds=demand)  # fmt: skip


def kwh(day: Day) -> dict[int, float]:
    return {b: v / MILLI for b, v in day.tou["kwh_import"].items()}


def test_a_slot_spanning_midnight_covers_both_ends_of_the_day() -> None:
    day = run(parse_calendar("night", NIGHT), {Channel.KWH_IMPORT: day_of([1.0] * 96)})
    assert kwh(day) == {1: 64.0, 3: 32.0}  # 22–24 (8) + 00–06 (24) quarter hours


def test_a_holiday_on_a_weekday_follows_the_holiday_plan() -> None:
    calendar = parse_calendar("mh", MH | {"seasons": [{"day_types": {
        "weekday": [["17:00", "24:00", 3]], "weekend": []}}]})  # fmt: skip
    data = {Channel.KWH_IMPORT: day_of([1.0] * 96)}
    assert kwh(run(calendar, data)) == {1: 68.0, 3: 28.0}
    holiday = DayTypes(holidays=frozenset({MONDAY}))
    assert kwh(run(calendar, data, day_types=holiday)) == {1: 96.0}  # borrows weekend: flat


def test_a_calendar_change_mid_cycle_applies_from_its_date_only() -> None:
    config = parse_config({"calendars": {"mh": MH}, "assignments": [
        {"calendar": "flat", "from": "2024-01-01"},
        {"calendar": "mh", "from": "2024-06-16", "tariff": "LT-II"}]})  # fmt: skip
    days = []
    for d in (date(2024, 6, 14), date(2024, 6, 17)):  # Friday, Monday
        calendar = config.calendar_for("LT-II", "commercial", d)
        days.append(("main", run(calendar, {Channel.KWH_IMPORT: day_of([1.0] * 96, d)}, day=d)))
    assert config.calendar_for("LT-I", None, date(2024, 6, 20)).code == "flat"
    total = combine(days)
    assert {b: v / MILLI for b, v in total.tou["kwh_import"].items()} == {
        1: 96.0 + 36.0, 2: 32.0, 3: 28.0}  # fmt: skip


def test_maximum_demand_exactly_at_a_slot_boundary_belongs_to_the_slot_it_started_in() -> None:
    values = [1.0] * 96
    values[67] = 5.0  # 16:45–17:00: ends at the boundary, started in the solar slot
    day = run(parse_calendar("mh", MH), {Channel.KWH_IMPORT: day_of(values)})
    five_pm = day_start(MONDAY, IST) + 17 * 3600
    assert day.md["kw"] == (20 * MILLI, five_pm)
    assert day.md_tou["kw"][2] == (20 * MILLI, five_pm)
    assert day.md_tou["kw"][3] == (4 * MILLI, five_pm + 900)  # first peak block, earliest tie


def test_fifteen_and_thirty_minute_integration() -> None:
    values = [0.0] * 96
    values[40:44] = [3.0, 1.0, 2.0, 2.0]  # 10:00–11:00
    data = {Channel.KWH_IMPORT: day_of(values)}
    ten = day_start(MONDAY, IST) + 10 * 3600
    assert run(TouCalendar("flat"), data, demand=900).md["kw"] == (12 * MILLI, ten + 900)
    # 30-min blocks: 4 kWh and 4 kWh → 8 kW each; the earlier one wins
    assert run(TouCalendar("flat"), data, demand=1800).md["kw"] == (8 * MILLI, ten + 1800)


def test_net_metering_with_export_above_import_goes_negative_on_the_virtual_channel() -> None:
    exported = [0.0] * 56 + [3.0] * 40
    day = run(TouCalendar("flat"), {Channel.KWH_IMPORT: day_of([1.0] * 96),
                                    Channel.KWH_EXPORT: day_of(exported)})  # fmt: skip
    total = combine([("main", day)])
    assert total.summary()["kwh_import"] == 96.0
    assert total.summary()["kwh_export"] == 120.0
    assert total.summary()["kwh_net"] == -24.0


def test_a_check_meter_is_subtracted_and_kept_apart() -> None:
    main = run(TouCalendar("flat"), {Channel.KWH_IMPORT: day_of([1.0] * 96)})
    check = run(TouCalendar("flat"), {Channel.KWH_IMPORT: day_of([0.25] * 96)})
    total = combine([("main", main), ("check", check)])
    assert total.summary()["kwh_import"] == 72.0
    assert total.summary()["check"] == {"kwh_import": 24.0}
    assert total.present == 96  # readiness counts the main meter only
    assert combine([("main", main), ("check", check)], subtract_check=False).summary()[
        "kwh_import"] == 96.0  # fmt: skip


def test_a_meter_change_mid_cycle_keeps_register_continuity() -> None:
    t0, change, end = 0, 15 * 86_400, 30 * 86_400
    old = RegisterSegment("A", -86_400, change, [t0, change], [1000.0, 1100.0])
    new = RegisterSegment("B", change, None, [change, end], [5.0, 55.0], multiplier=2.0)
    usage = register_usage([old, new], t0, end)
    assert usage.total == 100.0 + 100.0
    assert usage.parts == [("A", 100.0), ("B", 100.0)]


def test_rollover_adds_the_dial_limit() -> None:
    assert advance(99_950.0, 30.0, 5) == (80.0, 1)
    seg = RegisterSegment("A", 0, None, [10, 20, 30], [99_950.0, 99_990.0, 30.0], dials=5)
    usage = register_usage([seg], 10, 30)
    assert (usage.total, usage.rollovers) == (80.0, 1)


def test_cycles_run_from_the_cycle_day_in_the_tenant_zone() -> None:
    cycle = parse_cycle("2024-06", 1)
    assert cycle.bounds(IST) == (1717180200, 1719772200)  # 2024-05-31T18:30Z … 06-30T18:30Z


@pytest.mark.parametrize(
    "module",
    ["calendar", "channel", "cycle", "event_figures", "readiness", "reading_types", "register"],
)
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"cimhub.billing.{module}"))
    assert result.failed == 0
