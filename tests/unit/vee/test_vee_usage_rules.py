"""Consumption rules: spike, negative, zero, static, sanctioned load, inactive, history."""

from __future__ import annotations

from cimhub.testing.vee_batches import EXPORT, MONDAY, STEP, context, intervals
from cimhub.vee.context import MeterState
from cimhub.vee.engine import validate
from cimhub.vee.finding import Action

NOW = MONDAY + 40 * 86_400


def run(batch, ctx=None):
    return validate([batch], now=NOW, contexts={1: ctx or context()})


def fired(result, rule: str) -> list[tuple[int, ...]]:
    return [f.timestamps for f in result.findings if f.rule == rule]


def ts(i: int) -> int:
    return MONDAY + STEP * (i + 1)


def test_a_spike_next_to_a_gap_is_judged_on_its_other_neighbours_and_estimated() -> None:
    values = [0.30, 0.32, 0.31, 0.29, 4.0, None, None, 0.30, 0.31, 0.33, 0.30]
    result = run(intervals(values))
    # neighbours of 4.0: 0.30 0.32 0.31 0.29 | 0.30 0.31 0.33 0.30 → median 0.305; 4.0 > 5 × 0.305
    [spike] = [f for f in result.findings if f.rule == "usage.spike"]
    assert spike.timestamps == (ts(4),) and spike.action is Action.ESTIMATE
    assert spike.data == {"value": 4.0, "baseline": 0.305}
    assert fired(result, "interval.missing") == [(ts(5), ts(6))]
    v = result.validated[0]
    got = dict(zip(v.timestamps, v.values, strict=True))
    # spike + gap are one 45-minute run: linear from 0.29 (i=3) to 0.30 (i=7)
    assert [round(got[ts(i)], 4) for i in (4, 5, 6)] == [0.2925, 0.295, 0.2975]
    assert all(q.startswith("3.8.0") for q in v.qualities[4:7])


def test_a_value_below_the_floor_is_never_a_spike() -> None:
    assert fired(run(intervals([0.0, 0.0, 0.0, 0.4, 0.0, 0.0, 0.0])), "usage.spike") == []


def test_negative_consumption_is_flagged_on_import_and_allowed_on_net_metered_export() -> None:
    assert fired(run(intervals([0.3, -0.2, 0.3])), "usage.negative") == [(ts(1),)]
    export = intervals([0.3, -0.2, 0.3], code=EXPORT)
    assert fired(run(export, context(net=True)), "usage.negative") == []
    assert fired(run(export, context(net=None)), "usage.negative") == []  # unknown: quiet


def test_zero_runs_are_flagged_on_an_energised_meter_but_not_during_an_outage() -> None:
    values = [0.3] * 4 + [0.0] * 20 + [0.3] * 4
    assert fired(run(intervals(values)), "usage.zero") == [tuple(ts(i) for i in range(4, 24))]
    outage = ((ts(3), ts(23)),)  # the power was off for exactly those 20 intervals
    assert fired(run(intervals(values), context(outages=outage)), "usage.zero") == []
    # unknown outages or an unknown meter state: the rule stays quiet
    assert fired(run(intervals(values), context(outages=None)), "usage.zero") == []
    assert fired(run(intervals(values), context(state=None)), "usage.zero") == []


def test_a_flat_line_of_eight_identical_non_zero_values_is_static() -> None:
    values = [0.3, 0.31] + [0.5] * 8 + [0.29]
    assert fired(run(intervals(values)), "usage.static") == [tuple(ts(i) for i in range(2, 10))]
    assert fired(run(intervals([0.3, 0.31] + [0.5] * 7 + [0.29])), "usage.static") == []


def test_usage_above_the_sanctioned_load() -> None:
    # 5 kW sanctioned × 1.5 × 0.25 h = 1.875 kWh per 15 minutes at most
    values = [0.3, 1.8, 1.9, 0.3]
    assert fired(run(intervals(values), context(sanctioned=5.0)), "usage.sanctioned") == [(ts(2),)]
    assert fired(run(intervals(values)), "usage.sanctioned") == []  # load unknown


def test_usage_on_an_inactive_meter() -> None:
    values = [0.0, 0.2, 0.0]
    result = run(intervals(values), context(state=MeterState.INACTIVE))
    assert fired(result, "usage.inactive") == [(ts(1),)]


def test_a_day_far_below_its_like_days_is_low_usage() -> None:
    # four Mondays of 96 × 0.25 = 24 kWh, then one of 96 × 0.02 = 1.92 kWh (8 %)
    days = []
    for week in range(5):
        days += [0.25 + 0.001 * (i % 7) for i in range(96)] if week < 4 else [0.02] * 96
        if week < 4:
            days += [0.25 + 0.001 * (i % 7) for i in range(96 * 6)]
    result = run(intervals(days))
    [low] = [f for f in result.findings if f.rule == "usage.history"]
    assert low.quality == "3.6.6" and low.timestamps[0] == ts(4 * 7 * 96)
    assert round(low.data["day_total"], 6) == 1.92
    # Monday 2024-07-01 is local day 19905; its like days are the 3 nearest weekdays
    # before it: Friday 28, Thursday 27, Wednesday 26 June (the weekend is another type)
    assert low.data["reference_days"] == [19902, 19901, 19900]
    assert round(low.data["expected"], 3) == 24.288  # the median of their three totals
