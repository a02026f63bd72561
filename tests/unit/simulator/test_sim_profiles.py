"""The simulator's IS 15959 profiles: plausible shapes, registers consistent with blocks."""

from __future__ import annotations

from datetime import UTC, datetime

from cimhub.simulator.fleet import numbered
from cimhub.simulator.load_shape import Category, Consumer, local_time, net_power_kw
from cimhub.simulator.profiles import ProfileGenerator, zone_of

#: 2024-05-31 00:00 IST: a day before a billing date (1 June).
START = int(datetime(2024, 5, 30, 18, 30, tzinfo=UTC).timestamp())
DAY = 86_400


def test_local_time_is_ist_with_civil_months() -> None:
    assert local_time(START) == (0.0, 4, 5, local_time(START)[3])  # Friday 31 May, 00:00
    new_year = int(datetime(2024, 12, 31, 18, 30, tzinfo=UTC).timestamp())
    assert local_time(new_year)[2] == 1 and local_time(new_year - 1)[2] == 12


def test_a_domestic_evening_draws_more_than_its_night_and_pv_exports_at_noon() -> None:
    home = Consumer(Category.DOMESTIC, 2.0)
    evening, night = START + 20 * 3600 + 1800, START + 3 * 3600 + 900
    assert net_power_kw(home, 0, 1, evening) > 1.5 * net_power_kw(home, 0, 1, night)
    solar = Consumer(Category.DOMESTIC, 1.0, pv_kw=3.0)
    assert net_power_kw(solar, 0, 1, START + 12 * 3600) < 0  # exporting at noon
    office = Consumer(Category.COMMERCIAL, 10.0)
    assert net_power_kw(office, 0, 1, START + 12 * 3600) > 3 * net_power_kw(
        office, 0, 1, START + 3 * 3600
    )


def test_blocks_are_the_same_whenever_asked() -> None:
    meters = numbered(3, seed=7)
    first, second = ProfileGenerator(meters, START, seed=7), ProfileGenerator(meters, START, seed=7)
    batch = first.advance(START + DAY)
    assert len(batch.blocks) == 3 * 96
    assert second.blocks(meters[1], START + 3600, START + 7200) == [
        b for b in batch.blocks if b.meter == meters[1] and START + 3600 < b.end <= START + 7200
    ]


def test_registers_follow_the_blocks_and_billing_closes_the_month() -> None:
    meters = numbered(4, interval=1800)
    generator = ProfileGenerator(meters, START)
    batch = generator.advance(START + 3 * DAY)
    assert len(batch.blocks) == 4 * 48 * 3 and len(batch.daily) == 4 * 3 and len(batch.billing) == 4
    meter = meters[0]
    days = [d for d in batch.daily if d.meter == meter]
    second_day = [b for b in batch.blocks if b.meter == meter and days[0].at < b.end <= days[1].at]
    assert round(days[1].kwh_import - days[0].kwh_import, 3) == round(
        sum(b.kwh_import for b in second_day), 3
    )
    (bill,) = [b for b in batch.billing if b.meter == meter]
    assert bill.at == days[0].at == START + DAY  # 1 June 00:00 IST
    assert round(sum(bill.kwh_tou), 3) == bill.kwh_import
    first_day = [b for b in batch.blocks if b.meter == meter and b.end <= bill.at]
    peak = max(first_day, key=lambda b: b.demand_kw)
    assert (bill.md_kw, bill.md_kw_at) == (peak.demand_kw, peak.end)
    assert bill.power_on_minutes == 24 * 60
    assert all(b.kvah_import >= b.kwh_import for b in batch.blocks)


def test_tou_zones_by_local_hour() -> None:
    assert [zone_of(START + h * 3600) for h in (0, 5, 6, 8, 9, 16, 17, 23)] == [
        1,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
    ]


def test_an_outage_zeroes_what_the_meter_measures() -> None:
    (meter,) = numbered(1)
    off = (START + 3600, START + 7200)
    generator = ProfileGenerator(
        [meter], START, power_off=lambda _m, s, e: max(0, min(e, off[1]) - max(s, off[0]))
    )
    batch = generator.advance(START + 3 * 3600)
    during = [b for b in batch.blocks if off[0] < b.end <= off[1]]
    assert len(during) == 4 and all(b.kwh_import == 0 and b.voltage == 0 for b in during)
    assert all(b.kwh_import > 0 for b in batch.blocks if b not in during)
