"""Register rules: CUM, TOU and MD reads with hand-computed expectations."""

from __future__ import annotations

from cimhub.testing.vee_batches import CUM, MD, MONDAY, NET_CUM, context, registers, tou
from cimhub.vee.context import Previous, SeriesHistory
from cimhub.vee.engine import validate
from cimhub.vee.finding import SeriesKey

DAY = 86_400
NOW = MONDAY + 60 * DAY
DAYS = [MONDAY + d * DAY for d in range(5)]


def fired(result, rule: str) -> list[tuple[int, ...]]:
    return [f.timestamps for f in result.findings if f.rule == rule]


def test_a_cum_decrement_is_flagged_on_a_normal_meter_and_allowed_on_a_net_meter() -> None:
    reads = [1000.0, 1010.0, 1005.0, 1020.0]
    normal = validate([registers(DAYS[:4], reads)], now=NOW, contexts={1: context()})
    assert fired(normal, "register.decrement") == [(DAYS[2],)]
    # the failed read is estimated linearly in time between 1010 and 1020
    v = normal.validated[0]
    assert v.values[2] == 1015.0 and v.methods[2] == "estimated:register_interpolation"
    assert v.qualities[2] == "3.8.0 3.5.256"
    net = validate(
        [registers(DAYS[:4], reads, code=NET_CUM)], now=NOW, contexts={1: context(net=True)}
    )
    assert fired(net, "register.decrement") == []
    # the forward register of a net-metered point may not go down (§2.4.7)
    forward = validate([registers(DAYS[:4], reads)], now=NOW, contexts={1: context(net=True)})
    assert fired(forward, "register.decrement") == [(DAYS[2],)]


def test_the_first_read_is_checked_against_the_previous_validated_read() -> None:
    history = {SeriesKey(1, CUM): SeriesHistory(Previous(MONDAY - DAY, 1000.0))}
    result = validate(
        [registers(DAYS[:1], [990.0])], now=NOW, history=history, contexts={1: context()}
    )
    assert fired(result, "register.decrement") == [(DAYS[0],)]


def test_rollover_at_the_dial_limit_is_noted_and_is_not_a_decrement() -> None:
    reads = [99_990.0, 99_998.5, 6.25, 14.0]  # 5 dials: 99 999.99 → 00 000
    result = validate([registers(DAYS[:4], reads)], now=NOW, contexts={1: context(dials=5)})
    [roll] = [f for f in result.findings if f.rule == "register.rollover"]
    assert roll.timestamps == (DAYS[2],) and roll.data == {"advance": 7.75}
    assert fired(result, "register.decrement") == []
    assert result.validated[0].qualities[2] == "3.0.1 3.4.1"  # valid, overflow noted


def test_digits_beyond_the_dials_and_a_jump_above_the_threshold() -> None:
    reads = [99_000.0, 123_456.0, 99_020.0, 99_500.0]
    # 5 dials: 123456 has six digits. Sanctioned 2 kW × 24 h × 1.5 = 72 kWh a day at most.
    result = validate(
        [registers(DAYS[:4], reads)], now=NOW, contexts={1: context(dials=5, sanctioned=2.0)}
    )
    assert fired(result, "register.dials") == [(DAYS[1],)]
    assert (DAYS[3],) in fired(result, "register.increment")  # 480 kWh in one day


def test_tou_sum_mismatch_reset_and_decrement() -> None:
    cum = registers(DAYS[:3], [100.0, 110.0, 120.0])
    zones = [
        registers(DAYS[:3], [40.0, 44.0, 48.0], code=tou(1)),
        registers(DAYS[:3], [60.0, 66.0, 0.0], code=tou(2)),  # reset to zero on day 3
        registers(DAYS[:3], [0.0, 0.0, 0.0], code=tou(3)),
    ]
    result = validate([cum, *zones], now=NOW, contexts={1: context()})
    # Σ TOU on day 3 = 48 + 0 + 0 = 48 ≠ 120 (tolerance 0.5 + 0.1 % = 0.62)
    assert fired(result, "tou.sum") == [(DAYS[2],)]
    assert fired(result, "tou.reset") == [(DAYS[2],)]
    assert fired(result, "tou.decrement") == []  # the reset is reported once, as a reset
    dec = validate(
        [registers(DAYS[:3], [40.0, 39.0, 41.0], code=tou(1))], now=NOW, contexts={1: context()}
    )
    assert fired(dec, "tou.decrement") == [(DAYS[1],)]


def test_maximum_demand_not_reset_reset_off_cycle_and_too_high() -> None:
    # billing day 1; reads at local midnight of 29 and 30 June and 1, 2 July 2024
    june29 = MONDAY + 26 * DAY
    stamps = [june29, june29 + DAY, june29 + 2 * DAY, june29 + 3 * DAY]
    ctx = context(billing_day=1, sanctioned=5.0)
    stuck = validate([registers(stamps, [4.2, 4.2, 4.2, 4.2], code=MD)], now=NOW, contexts={1: ctx})
    assert fired(stuck, "demand.not_reset") == [(stamps[2],)]  # the reset at 1 July 00:00 IST
    assert fired(stuck, "demand.reset_off_cycle") == []
    ok = validate([registers(stamps, [4.2, 4.4, 0.0, 2.1], code=MD)], now=NOW, contexts={1: ctx})
    assert fired(ok, "demand.not_reset") == [] and fired(ok, "demand.reset_off_cycle") == []
    off = validate([registers(stamps, [4.2, 1.0, 0.0, 9.0], code=MD)], now=NOW, contexts={1: ctx})
    assert fired(off, "demand.reset_off_cycle") == [(stamps[1],)]
    assert fired(off, "demand.too_high") == [(stamps[3],)]  # 9 kW > 5 kW × 1.5
    unknown = validate([registers(stamps, [4.2, 4.2, 4.2, 4.2], code=MD)], now=NOW)
    assert fired(unknown, "demand.not_reset") == []  # no billing day known: quiet
