"""Outages in VEE through the store, on both backends: power events a head-end sends
become the outages VEE's rules and estimates respect, and events that arrive after the
readings they explain re-judge them.

Meters (``cimhub.testing.vee_hub``): SM0000000 and SM0000003 belong to HES-A, SM0000001
and SM0000004 to HES-B; all in service; consumers of 2, 5 and 6 kW sanctioned load.
"""

from __future__ import annotations

from lxml import etree

from cimhub.mappings.timestamp import to_epoch
from cimhub.store.subscriptions import Subscription
from cimhub.store.vee import VeeService
from cimhub.store.vee_master import StoreMasterData
from cimhub.testing.messages import KWH_15MIN as KWH
from cimhub.testing.messages import readings_message
from cimhub.testing.receiver import Receiver
from cimhub.testing.replies import ParsedReply
from cimhub.testing.vee_days import WEDNESDAY as D
from cimhub.testing.vee_days import at, day_of, with_zeros
from cimhub.testing.vee_hub import TENANT, VeeHub, meter

MR = "http://iec.ch/TC57/2011/MeterReadings#"
ESTIMATED_MISSING = "3.8.0 3.5.259"


def test_a_zero_run_inside_an_outage_is_not_flagged_and_a_gap_in_it_is_zero(vee: VeeHub) -> None:
    # supply lost 09:00–14:00: 20 zero intervals, of which 11:00 and 11:15 never arrive
    vee.outage(0, at(0, 9), at(0, 14))
    lost = (at(0, 11), at(0, 11.25))
    reply = vee.send(
        readings_message(meter(0), {KWH: with_zeros(day_of(0.3), at(0, 9), at(0, 14), lost)})
    )
    assert reply.result.value == "OK", reply.body
    assert vee.findings(0, "usage.zero") == []
    [gap] = vee.findings(0, "interval.missing")
    assert (gap.first_ts, gap.last_ts) == lost
    assert vee.current(0, list(lost)) == [(0.0, ESTIMATED_MISSING, "estimated:outage_zero")] * 2


def test_outages_are_known_for_a_meter_or_its_head_end_else_the_zero_rule_stays_quiet(
    vee: VeeHub,
) -> None:
    vee.outage(0, at(-1, 9), at(-1, 10))  # SM0 of HES-A: HES-A reports power events
    tenant, _, (m0, m1, m3) = vee.ids(0, 1, 3)
    with vee.hub.database.unit_of_work(tenant) as uow:
        contexts = StoreMasterData(uow).contexts(tenant, [m0, m1, m3], D, at(1, 0))
        earlier = StoreMasterData(uow).contexts(tenant, [m0], D, at(1, 0), outages_from=at(-1, 0))
    assert contexts[m0].outages == () and contexts[m3].outages == ()  # known: none that day
    assert contexts[m1].outages is None  # HES-B never sent a power event: unknown
    assert earlier[m0].outages == ((at(-1, 9), at(-1, 10)),)  # from the like-day lookback
    # the same 20 zero intervals on SM3 (HES-A, no outage) and SM1 (HES-B, unknown)
    for i in (3, 1):
        vee.send(readings_message(meter(i), {KWH: with_zeros(day_of(0.4), at(0, 9), at(0, 14))}))
    [zero] = vee.findings(3, "usage.zero")
    assert (zero.first_ts, zero.last_ts, zero.count) == (at(0, 9.25), at(0, 14), 20)
    assert vee.findings(1, "usage.zero") == []


def test_late_power_events_clear_the_zero_finding_and_turn_the_gap_estimates_to_zero(
    vee: VeeHub, receiver: Receiver
) -> None:
    vee.hub.bus.put_subscription(  # type: ignore[union-attr]
        Subscription("billing", "MeterReadings", ("changed",), receiver.url)
    )
    vee.outage(0, at(-1, 9), at(-1, 10))  # HES-A reports power events
    # SM3's readings first: zeros 09:15–13:30, 13:45 and 14:00 lost, 0.5 again at 14:15
    lost = (at(0, 13.75), at(0, 14))
    vee.send(readings_message(meter(3), {KWH: with_zeros(day_of(0.5), at(0, 9), at(0, 14), lost)}))
    [zero] = vee.findings(3, "usage.zero")
    assert (zero.first_ts, zero.last_ts) == (at(0, 9.25), at(0, 13.5))
    right = day_of(0.5)[at(0, 14.25)]
    # linear from 0.0 (13:30) to the 14:15 value: thirds of the way
    before = vee.current(3, list(lost))
    assert [round(v, 6) for v, _, _ in before] == [round(right / 3, 6), round(2 * right / 3, 6)]
    assert {m for _, _, m in before} == {"estimated:linear_interpolation"}
    # then the head-end's power events: supply was off 09:00–14:00
    answer = vee.outage(3, at(0, 9), at(0, 14))
    assert "re-judged" in ParsedReply.of(answer.body).reasons[0]
    assert vee.findings(3, "usage.zero") == []
    [cleared] = vee.findings(3, "usage.zero", cleared=True)
    assert cleared.id == zero.id and cleared.cleared_at is not None
    assert vee.current(3, list(lost)) == [(0.0, ESTIMATED_MISSING, "estimated:outage_zero")] * 2
    # billing hears of the changed values as MeterReadings changed, with the events message
    [body] = receiver.wait_for(1)
    changed = _readings(body)
    assert changed[lost[0]] == (0.0, ESTIMATED_MISSING) and changed[lost[1]][0] == 0.0
    assert changed[at(0, 12)] == (0.0, "3.0.1")  # no longer flagged zero usage


def test_interpolation_never_ends_on_an_interval_inside_an_outage(vee: VeeHub) -> None:
    # supply off for the interval ending 10:00 (0.0 arrives); 10:15 and 10:30 never
    # arrive. Without the outage: linear from 0.0 (10:00) to 10:45's value. With it: 0.0
    # may not be an end point, there is no like-day history, so the nearest usable value
    # on the other side, 10:45's, fills both.
    vee.outage(0, at(0, 9.75), at(0, 10))
    values = day_of(0.3)
    values[at(0, 10)] = 0.0
    gap = [at(0, 10.25), at(0, 10.5)]
    for ts in gap:
        del values[ts]
    vee.send(readings_message(meter(0), {KWH: values}))
    right = values[at(0, 10.75)]
    assert vee.current(0, gap) == [(right, ESTIMATED_MISSING, "estimated:nearest_value")] * 2


def test_like_days_leave_out_days_with_outages(vee: VeeHub) -> None:
    # SM4 (6 kW). Thu 0.6, Fri 0.4, Sat and Sun 0.3, Mon 0.2, Tue 0.35 with an outage
    # 02:00–03:00 (zeros); Wednesday 10:00–14:00 never arrives (16 intervals: like days).
    # The 3 nearest weekdays are Tue, Mon, Fri — but Tue had an outage: Mon, Fri, Thu.
    vee.outage(4, at(-1, 2), at(-1, 3))
    history: dict[int, float] = {}
    for day, base in ((-6, 0.6), (-5, 0.4), (-4, 0.3), (-3, 0.3), (-2, 0.2), (-1, 0.35)):
        history |= day_of(base, day)
    for ts in history:
        if at(-1, 2) < ts <= at(-1, 3):
            history[ts] = 0.0
    assert vee.send(readings_message(meter(4), {KWH: history})).result.value == "OK"
    wednesday = day_of(0.3)
    gap = [ts for ts in wednesday if at(0, 10) < ts <= at(0, 14)]
    for ts in gap:
        del wednesday[ts]
    vee.send(readings_message(meter(4), {KWH: wednesday}))
    got = vee.current(4, gap)
    # slot i of the day: avg(0.2, 0.4, 0.6) + its wobble 0.001 × (i % 7)
    expected = [round(0.4 + 0.001 * ((40 + k) % 7), 6) for k in range(16)]
    assert [round(v, 6) for v, _, _ in got] == expected
    assert {m for _, _, m in got} == {"estimated:like_day_avg_3"}


def _readings(body: bytes) -> dict[int, tuple[float, str]]:
    root = etree.fromstring(body)
    out = {}
    for ir in root.iter(f"{{{MR}}}IntervalReadings"):
        codes = " ".join(q.get("ref") for q in ir.iter(f"{{{MR}}}ReadingQualityType"))
        out[to_epoch(ir.findtext(f"{{{MR}}}timeStamp"))] = (
            float(ir.findtext(f"{{{MR}}}value")),
            codes,
        )
    return out


def test_outages_are_known_only_from_the_first_power_event_the_head_end_sent(
    vee: VeeHub,
) -> None:
    # HES-A's first power event: SM0's supply lost at 12:00 on the day, back at 12:30
    vee.outage(0, at(0, 12), at(0, 12.5))
    tenant, _, (m0, m3) = vee.ids(0, 3)
    with vee.hub.database.unit_of_work(tenant) as uow:
        got = StoreMasterData(uow).contexts(tenant, [m0, m3], D, at(1, 0))
        before = StoreMasterData(uow).contexts(tenant, [m3], at(-1, 0), D)
    assert (got[m3].outages, got[m3].outages_since) == ((), at(0, 12))
    assert got[m0].outages == ((at(0, 12), at(0, 12.5)),)
    assert before[m3].outages is None  # the day before: not known at all
    # SM3 (HES-A) sends zeros 09:00–14:00: only the 8 from 12:00 on are judged, no run
    vee.send(readings_message(meter(3), {KWH: with_zeros(day_of(0.4), at(0, 9), at(0, 14))}))
    assert vee.findings(3, "usage.zero") == []
    # a power event of two days before arrives late: HES-A reported power events then
    # already (the event's own time counts, not its arrival); a re-run judges all 20
    vee.outage(0, at(-2, 3), at(-2, 4))
    with vee.hub.database.unit_of_work(tenant) as uow:
        again = StoreMasterData(uow).contexts(tenant, [m3], D, at(1, 0))
        assert again[m3].outages_since == at(-2, 3)
        VeeService().rerun(uow, tenant, TENANT, [m3], D, at(1, 0), now=at(3, 0))
    [zero] = vee.findings(3, "usage.zero")
    assert (zero.first_ts, zero.last_ts, zero.count) == (at(0, 9.25), at(0, 14), 20)
