"""Supply in VEE's judgement, hand-computed: outages known only from a start, the relay open
(a meter the DISCOM disconnected) keeps the zero rule quiet, consumption while it is open
is flagged and kept, and gaps without supply are estimated as zero."""

from __future__ import annotations

from cimhub.testing.vee_batches import MONDAY, STEP, context, intervals
from cimhub.vee import quality
from cimhub.vee.engine import validate
from cimhub.vee.finding import Action, Severity

NOW = MONDAY + 40 * 86_400
#: 4 intervals of 0.3, 20 zeros (intervals 4–23), 4 of 0.3
ZEROS = [0.3] * 4 + [0.0] * 20 + [0.3] * 4


def run(values, **ctx):
    return validate([intervals(values)], now=NOW, contexts={1: context(**ctx)})


def ts(i: int) -> int:
    """The end of interval i (0-based) of the batch."""
    return MONDAY + STEP * (i + 1)


def fired(result, rule: str) -> list[tuple[int, ...]]:
    return [f.timestamps for f in result.findings if f.rule == rule]


def test_zeros_before_outages_are_known_do_not_count_towards_a_run() -> None:
    # known from the start of interval 12 (ts(11)): intervals 12–23 are 12 zeros, below
    # the 16 of a run (the default); known from interval 4 on: all 20 count
    assert fired(run(ZEROS, outages_since=ts(11)), "usage.zero") == []
    assert len(fired(run(ZEROS, outages_since=ts(7)), "usage.zero")[0]) == 16
    assert fired(run(ZEROS, outages_since=ts(3)), "usage.zero") == [
        tuple(ts(i) for i in range(4, 24))
    ]
    # an interval that starts before the time and ends after it is not known yet: the run
    # is the 19 from interval 5 on
    assert fired(run(ZEROS, outages_since=ts(3) + 60), "usage.zero") == [
        tuple(ts(i) for i in range(5, 24))
    ]


def test_zeros_while_the_relay_is_open_are_no_zero_run() -> None:
    open_relay = ((ts(3), ts(23)),)  # disconnected at the start of interval 4, back at 23's end
    assert fired(run(ZEROS, disconnected=open_relay), "usage.zero") == []
    # open for the first 5 of the 20 only: 15 zeros remain, fewer than 16; a relay
    # opened after the run leaves it whole
    assert fired(run(ZEROS, disconnected=((ts(3), ts(8)),)), "usage.zero") == []
    assert fired(run(ZEROS, disconnected=((ts(23), ts(27)),)), "usage.zero") == [
        tuple(ts(i) for i in range(4, 24))
    ]
    # the relay state unknown (no switch known) counts as connected: the run is flagged
    assert len(fired(run(ZEROS, disconnected=None), "usage.zero")) == 1


def test_consumption_inside_a_disconnection_is_flagged_and_kept() -> None:
    # relay opened 10 minutes into interval 2 and closed again at the end of interval 6:
    # interval 2 is partly supplied (its 0.3 is fine); 3–6 lie wholly inside it
    values = [0.3, 0.3, 0.3, 0.0, 0.25, 0.0, 0.1, 0.3]
    result = run(values, disconnected=((ts(1) + 600, ts(6)),))
    [finding] = [f for f in result.findings if f.rule == "usage.disconnected"]
    assert finding.timestamps == (ts(4), ts(6))
    assert (finding.severity, finding.action, finding.quality) == (
        Severity.ERROR,
        Action.NOTE,
        quality.INACTIVE_USAGE,
    )
    assert finding.data == {"consumption": 0.35}
    v = result.validated[0]
    got = dict(zip(v.timestamps, zip(v.values, v.qualities, v.methods, strict=True), strict=True))
    assert got[ts(4)] == (0.25, "3.6.2", "validated")  # the value stays; marked, not valid
    assert got[ts(6)] == (0.1, "3.6.2", "validated")
    assert got[ts(5)] == (0.0, "3.0.1", "validated")
    # the same values with the relay closed: nothing to say
    assert fired(run(values, disconnected=()), "usage.disconnected") == []


def test_a_gap_while_the_relay_is_open_is_zero_and_never_an_end_point() -> None:
    values = [0.4, 0.4, 0.0, None, None, 0.6, 0.5, 0.5]  # intervals 3 and 4 never arrive
    [gap] = [f for f in run(values).findings if f.rule == "interval.missing"]
    assert gap.timestamps == (ts(3), ts(4))
    # relay open from the end of interval 1 to the end of 5: no supply, nothing consumed
    got = _estimates(run(values, disconnected=((ts(1), ts(5)),)))
    assert got == [(0.0, "estimated:disconnected_zero")] * 2
    # supplied all along: linear from interval 2's 0.0 to interval 5's 0.6
    got = _estimates(run(values, disconnected=()))
    assert [(round(v, 6), m) for v, m in got] == [
        (0.2, "estimated:linear_interpolation"),
        (0.4, "estimated:linear_interpolation"),
    ]
    # relay open during interval 2 only: its 0.0 says nothing of the load, so it is no end
    # point; no like days either, so the nearest usable value, 0.6, fills both
    got = _estimates(run(values, disconnected=((ts(1), ts(2)),)))
    assert got == [(0.6, "estimated:nearest_value")] * 2


def _estimates(result) -> list[tuple[float, str]]:
    v = result.validated[0]
    got = dict(zip(v.timestamps, zip(v.values, v.methods, strict=True), strict=True))
    return [got[ts(3)], got[ts(4)]]


def test_a_day_low_because_the_relay_was_open_is_no_low_usage() -> None:
    # four weeks of 0.25 kWh intervals, then a Monday of 0.02: 8 % of its like days
    days = [0.25 + 0.001 * (i % 7) for i in range(96 * 7 * 4)] + [0.02] * 96
    monday = 4 * 7 * 96  # index of the fifth Monday's first interval
    [low] = [f for f in run(days).findings if f.rule == "usage.history"]
    assert low.timestamps[0] == ts(monday)
    # disconnected from 06:00 that Monday: explained, not flagged
    opened = ((ts(monday + 23), ts(monday + 95)),)
    assert fired(run(days, disconnected=opened), "usage.history") == []


#: four weeks of a flat 0.25 kWh per 15 minutes (24 kWh a day), then a Monday
WEEKS = [0.25] * (96 * 7 * 4)
FIFTH_MONDAY = 96 * 7 * 4  #: index of its first interval (00:00–00:15 IST)
#: supply out from 01:00 that Monday to its end: intervals 4–95
OUT_FROM_ONE = ((ts(FIFTH_MONDAY + 3), ts(FIFTH_MONDAY + 95)),)


def test_a_day_low_only_because_of_an_outage_is_no_low_usage() -> None:
    # 4 × 0.25 = 1 kWh before the outage, nothing after: 1/24 = 4 % of the like days'
    # 24 kWh, below 10 %, so without the outage known it is low usage
    day = [0.25] * 4 + [0.0] * 92
    [low] = [f for f in run(WEEKS + day).findings if f.rule == "usage.history"]
    assert low.data["day_total"] == 1.0 and low.data["expected"] == 24.0
    # with it known, only the 4 supplied intervals count: 1 kWh against the like days'
    # same 4 intervals, 4 × 0.25 = 1 kWh: 100 %, nothing to say
    assert fired(run(WEEKS + day, outages=OUT_FROM_ONE), "usage.history") == []


def test_low_usage_in_the_supplied_hours_of_an_outage_day_is_still_low() -> None:
    # 4 × 0.01 = 0.04 kWh in the supplied hour against the like days' 1 kWh: 4 %
    day = [0.01] * 4 + [0.0] * 92
    [low] = [
        f for f in run(WEEKS + day, outages=OUT_FROM_ONE).findings if f.rule == "usage.history"
    ]
    assert low.quality == quality.BELOW_PERCENT
    assert round(low.data["day_total"], 9) == 0.04 and low.data["expected"] == 1.0
    assert low.data["supplied_intervals"] == 4
    assert low.timestamps == tuple(ts(FIFTH_MONDAY + i) for i in range(96))  # the whole day


def test_a_day_out_all_day_is_not_judged_and_high_counts_supplied_hours_only() -> None:
    out_all_day = ((ts(FIFTH_MONDAY - 1), ts(FIFTH_MONDAY + 95)),)
    assert fired(run(WEEKS + [0.0] * 96, outages=out_all_day), "usage.history") == []
    # 4 × 1.0 = 4 kWh in the supplied hour: 400 % of the like days' 1 kWh there, above
    # 300 %, though 4/24 of a whole day would have been low
    day = [1.0] * 4 + [0.0] * 92
    [high] = [
        f for f in run(WEEKS + day, outages=OUT_FROM_ONE).findings if f.rule == "usage.history"
    ]
    assert high.quality == quality.ABOVE_PERCENT
    assert (high.data["day_total"], high.data["expected"]) == (4.0, 1.0)
