"""Assessed consumption of points without a working meter, hand-computed: load × hours ×
load factor per local day, the hours cut by outages and by what a meter measured."""

from __future__ import annotations

import doctest

import pytest

from cimhub.vee import assessment
from cimhub.vee.assessment import Basis, assess, basis_of
from cimhub.vee.config import Params, parse_config

#: 2024-06-03 (a Monday) as a local day number, and its start in UTC (00:00 IST)
DAY = 19_877
START = DAY * 86_400 - 19_800
H = 3_600
PUMP = Basis(5.0, "connected load", 8.0, "configured hours", 0.75)


def test_doctests() -> None:
    assert doctest.testmod(assessment).failed == 0


def test_the_connected_load_comes_first_then_the_sanctioned_load() -> None:
    p = Params(non_metered_hours=8.0, non_metered_load_factor=0.75)
    assert basis_of(5.0, 3.0, None, p) == PUMP
    assert basis_of(None, 3.0, 12.0, p) == Basis(
        3.0, "sanctioned load", 12.0, "operating hours", 0.75
    )
    assert basis_of(None, None, 12.0, p) is None  # nothing to assess by
    assert basis_of(0.0, None, 12.0, p) is None


def test_a_whole_unmetered_day_is_load_times_hours_times_factor() -> None:
    [day] = assess([DAY], PUMP, Params())
    assert (day.ts, day.kwh, day.hours) == (START + 86_400, 30.0, 8.0)  # 5 × 8 × 0.75
    assert day.reason(PUMP) == (
        "connected load 5 kW × 8 h × load factor 0.75 (configured hours 8 h/day)"
    )


def test_outages_take_supply_hours_off_only_beyond_the_hours_the_load_runs() -> None:
    # out 10 h: 14 h of supply left, more than the 8 h the pump runs: 30 kWh still
    assert assess([DAY], PUMP, Params(), outages=[(START, START + 10 * H)])[0].kwh == 30.0
    # out 19 h in two pieces (an overlap counted once): 5 h left, 5 × 5 × 0.75 = 18.75
    outages = [(START - 2 * H, START + 9 * H), (START + 8 * H, START + 13 * H),
               (START + 17 * H, START + 23 * H)]  # fmt: skip
    [day] = assess([DAY], PUMP, Params(), outages=outages)
    assert (day.hours, day.kwh) == (5.0, 18.75)
    # out all day: nothing could run
    assert assess([DAY], PUMP, Params(), outages=[(START - H, START + 25 * H)])[0].kwh == 0.0


def test_a_day_partly_metered_is_assessed_for_its_unmetered_share() -> None:
    # a meter until 06:00: 18 h unmetered, 8 × 18/24 = 6 h, 5 × 6 × 0.75 = 22.5
    [day] = assess([DAY], PUMP, Params(), metered=[(START - 86_400, START + 6 * H)])
    assert (day.hours, day.kwh) == (6.0, 22.5)
    # and the supply out from 06:00 to 22:00 of those 18 h: 2 h left
    [day] = assess(
        [DAY], PUMP, Params(), metered=[(0, START + 6 * H)], outages=[(START, START + 22 * H)]
    )
    assert (day.hours, day.kwh) == (2.0, 7.5)
    # metered all day: no estimate at all
    assert assess([DAY, DAY + 1], PUMP, Params(), metered=[(0, START + 86_400)]) == [
        assessment.DayEstimate(START + 2 * 86_400, 30.0, 8.0)
    ]


def test_hours_and_load_factor_are_tenant_settings_per_consumer_category() -> None:
    config = parse_config(
        {
            "defaults": {"non_metered_hours": 12.0},
            "tenant": {"d": {"category": {"agricultural": {"non_metered_load_factor": 0.6}}}},
        }
    )
    farm = config.params("d", None, "agricultural")
    assert (farm.non_metered_hours, farm.non_metered_load_factor) == (12.0, 0.6)
    assert config.params("d", None, "street_light").non_metered_load_factor == 1.0
    with pytest.raises(ValueError, match="non_metered_hours must be a number"):
        parse_config({"defaults": {"non_metered_hours": "all day"}})
