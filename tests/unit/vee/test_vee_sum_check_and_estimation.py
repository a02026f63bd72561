"""The sum check, multiplier diagnosis and every estimation method, computed by hand."""

from __future__ import annotations

from cimhub.testing.vee_batches import KWH, MONDAY, STEP, context, intervals, registers
from cimhub.vee import estimation
from cimhub.vee.calendar import profiles_from
from cimhub.vee.config import Params
from cimhub.vee.context import DayProfile, SeriesHistory
from cimhub.vee.engine import validate
from cimhub.vee.finding import SeriesKey

NOW = MONDAY + 60 * 86_400


def ts(i: int) -> int:
    return MONDAY + STEP * (i + 1)


def test_a_wrong_ct_multiplier_is_caught_by_the_sum_check() -> None:
    # 8 intervals of 0.25 kWh sent from the secondary side: Σ 2.0; the register (primary)
    # advanced 80 kWh between its reads at 00:00 and 02:00. CT ratio 40.
    batch = intervals([0.25] * 8)
    cum = registers([MONDAY, ts(7)], [5_000.0, 5_080.0])
    result = validate([batch, cum], now=NOW, contexts={1: context(multiplier=40.0)})
    [check] = [f for f in result.findings if f.rule == "sum.check"]
    assert check.data == {"interval_sum": 2.0, "register_delta": 80.0}
    assert check.timestamps == tuple(ts(i) for i in range(8))
    [cause] = [f for f in result.findings if f.rule == "meter.multiplier_unit"]
    assert cause.data["ratio"] == 0.025 and "register, not the intervals" in cause.description


def test_matching_sums_pass_and_a_wh_register_is_a_unit_mismatch() -> None:
    batch = intervals([0.25] * 8)
    ok = validate([batch, registers([MONDAY, ts(7)], [5_000.0, 5_002.0])], now=NOW)
    assert not [f for f in ok.findings if f.rule in ("sum.check", "meter.multiplier_unit")]
    wh = "0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.0.72.0"  # a register in Wh (multiplier 0)
    bad = validate([batch, registers([MONDAY, ts(7)], [5_000.0, 5_002.0], code=wh)], now=NOW)
    [cause] = [f for f in bad.findings if f.rule == "meter.multiplier_unit"]
    assert cause.data["ratio"] == 1000.0


def test_linear_interpolation_may_not_use_an_end_point_inside_an_outage() -> None:
    values = [0.3, 0.4, None, None, 0.6, 0.7]
    short = validate([intervals(values)], now=NOW, contexts={1: context()})
    got = short.validated[0].values
    assert [round(v, 6) for v in got[2:4]] == [0.466667, 0.533333]  # 0.4 → 0.6 in thirds
    # the power was off for the interval ending ts(1): 0.4 is no end point; no history →
    # nearest usable is 0.6 on the right (0.3 is not adjacent), so the gap takes 0.6
    outage = ((ts(0), ts(1)),)
    result = validate([intervals(values)], now=NOW, contexts={1: context(outages=outage)})
    v = result.validated[0]
    assert v.values[2:4] == [0.6, 0.6] and v.methods[2] == "estimated:nearest_value"


def test_a_gap_wholly_inside_an_outage_is_zero() -> None:
    values = [0.3, None, None, 0.3]
    outage = ((ts(0), ts(2)),)
    v = validate([intervals(values)], now=NOW, contexts={1: context(outages=outage)}).validated[0]
    assert v.values == [0.3, 0.0, 0.0, 0.3] and v.methods[1] == "estimated:outage_zero"


def test_a_long_gap_takes_the_average_or_maximum_of_the_same_blocks_on_like_days() -> None:
    # Monday 10:00–14:00 missing (16 intervals > 2 h). Like days: the 3 nearest clean
    # weekdays (Fri, Thu, Wed before it) with 0.2 / 0.4 / 0.6 in every block.
    monday = 19877  # 2024-06-03 as a local day number
    refs = {
        d: DayProfile(d, tuple([x] * 96), True)
        for d, x in ((monday - 3, 0.2), (monday - 4, 0.4), (monday - 5, 0.6))
    }
    refs[monday - 1] = DayProfile(monday - 1, tuple([9.0] * 96), True)  # Sunday: another type
    refs[monday - 6] = DayProfile(monday - 6, tuple([9.0] * 96), False)  # a day with estimates
    history = {SeriesKey(1, KWH): SeriesHistory(None, refs)}
    values: list[float | None] = [0.3] * 96
    values[40:56] = [None] * 16
    avg = validate([intervals(values)], now=NOW, history=history).validated[0]
    assert {round(v, 6) for v in avg.values[40:56]} == {0.4}
    assert avg.methods[40] == "estimated:like_day_avg_3"
    from cimhub.vee.config import Layer, VeeConfig

    config = VeeConfig(defaults=Layer({"like_day_statistic": "max"}))
    peak = validate([intervals(values)], now=NOW, history=history, config=config).validated[0]
    assert {round(v, 6) for v in peak.values[40:56]} == {0.6}


def test_estimates_are_scaled_to_the_boundary_register_reads() -> None:
    # 8 intervals, 4 missing (1 h, linear 0.25 each = 1.0); the register says the 2 h
    # held 3.0 kWh and the 4 measured ones 1.0, so the 4 estimates must share 2.0.
    values = [0.25, 0.25, None, None, None, None, 0.25, 0.25]
    cum = registers([MONDAY, ts(7)], [100.0, 103.0])
    v = validate([intervals(values), cum], now=NOW).validated[0]
    assert [round(x, 6) for x in v.values[2:6]] == [0.5] * 4
    assert v.methods[2] == "estimated:linear_interpolation+scaled_to_registers"
    assert round(sum(v.values), 6) == 3.0


def test_scale_and_linear_doctests_by_hand() -> None:
    assert estimation.linear(0.0, 1.0, 1) == [0.5]
    assert estimation.scale([0.0, 0.0], 3.0) == [1.5, 1.5]


def test_non_metered_street_light_from_connected_load_and_burning_hours() -> None:
    # 1.2 kW of lamps burning 18:00–06:00 IST; one day of hourly energy
    start = MONDAY
    stamps, values = estimation.non_metered(start, start + 86_400, 3600, 1.2, [(18.0, 6.0)])
    assert len(stamps) == 24 and round(sum(values), 6) == 14.4  # 12 h × 1.2 kW
    assert values[5] == 1.2 and values[6] == 0.0  # 05:00–06:00 on, 06:00–07:00 off
    assert Params().utc_offset_minutes == 330


def test_a_stored_day_with_an_outage_is_no_like_day() -> None:
    # Stored history of the Friday, Thursday and Wednesday before Monday 2024-06-03, all
    # validated (3.0.1) at 0.2 / 0.4 / 0.6 a block; Friday had a 30-minute outage (its
    # zeros passed VEE). Monday 10:00–14:00 is missing: the like days are Thu, Wed and —
    # Friday being out — Tuesday (0.8), so the average is (0.4 + 0.6 + 0.8) / 3 = 0.6.
    params = Params()
    stamps, values = [], []
    for back, x in ((3, 0.2), (4, 0.4), (5, 0.6), (6, 0.8)):
        first = MONDAY - back * 86_400
        stamps += [first + STEP * (i + 1) for i in range(96)]
        values += [x] * 96
    friday_outage = ((MONDAY - 3 * 86_400 + 7200, MONDAY - 3 * 86_400 + 9000),)
    quals = ["3.0.1"] * len(stamps)
    clean = profiles_from(stamps, values, quals, STEP, params)
    without = profiles_from(stamps, values, quals, STEP, params, outages=friday_outage)
    friday = (MONDAY + 330 * 60) // 86_400 - 3
    assert clean[friday].clean and not without[friday].clean
    gap: list[float | None] = [0.3] * 96
    gap[40:56] = [None] * 16
    for profiles, expected in ((clean, 0.4), (without, 0.6)):
        history = {SeriesKey(1, KWH): SeriesHistory(None, profiles)}
        v = validate([intervals(gap)], now=NOW, history=history).validated[0]
        assert {round(x, 6) for x in v.values[40:56]} == {expected}


def test_a_gap_inside_an_outage_stays_zero_when_estimates_are_scaled_to_registers() -> None:
    # 8 intervals; the supply was off for the 3rd and 4th (never sent), and 5th and 6th are
    # missing with supply on. The register says 2.5 kWh; the 4 measured hold 1.0, so the
    # 1.5 left goes to the two estimates outside the outage (0.75 each), none inside it.
    values = [0.25, 0.25, None, None, None, None, 0.25, 0.25]
    outage = ((ts(1), ts(3)),)
    cum = registers([MONDAY, ts(7)], [100.0, 102.5])
    v = validate([intervals(values), cum], now=NOW, contexts={1: context(outages=outage)})
    got = v.validated[0]
    assert got.values[2:4] == [0.0, 0.0] and got.methods[2] == "estimated:outage_zero"
    assert [round(x, 6) for x in got.values[4:6]] == [0.75, 0.75]
    assert got.methods[4].endswith("+scaled_to_registers")
