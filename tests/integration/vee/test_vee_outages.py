"""Outages in VEE through the store, on both backends: power events a head-end sends
become the outages VEE's rules and estimates respect, and events that arrive after the
readings they explain re-judge them.

Meters from ``write_discom``: SM0000000 and SM0000003 belong to HES-A, SM0000001 and
SM0000004 to HES-B; all in service; consumers of 2, 5 and 6 kW sanctioned load.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer, Inbound
from cimhub.domain.reading import MeterRef
from cimhub.imports.csv_import import import_files
from cimhub.mappings.timestamp import to_epoch
from cimhub.settings import Settings
from cimhub.store.findings import FindingRepository
from cimhub.store.subscriptions import Subscription
from cimhub.store.validated import ValidatedRepository
from cimhub.store.vee_master import StoreMasterData
from cimhub.testing.events import Ev, created_end_device_events
from cimhub.testing.masterdata import write_discom
from cimhub.testing.messages import KWH_15MIN as KWH
from cimhub.testing.messages import readings_message
from cimhub.testing.receiver import Receiver
from cimhub.testing.replies import ParsedReply

TENANT = "t1"
OFF, ON = "3.26.0.85", "3.26.0.216"
IST, STEP, DAY_S = 330 * 60, 900, 86_400
MR = "http://iec.ch/TC57/2011/MeterReadings#"


def _wednesday() -> int:
    """Local (IST) midnight opening the latest Wednesday that ended two days ago or more:
    old enough for the re-acquisition wait, recent enough for the old-date rule."""
    day = (int(time.time()) + IST) // DAY_S - 3
    while (day + 3) % 7 != 2:  # 1970-01-01 was a Thursday: (day + 3) % 7 is Monday = 0
        day -= 1
    return day * DAY_S - IST


D = _wednesday()


def at(day: int, hour: float) -> int:
    """The interval end at local ``hour`` of day ``D + day``."""
    return D + day * DAY_S + int(hour * 3600)


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def day_of(base: float, day: int = 0) -> dict[int, float]:
    """96 intervals of day ``D + day``: ``base`` plus a wobble of the slot (so that no run
    of equal values is a flat line), the same on every day."""
    return {at(day, 0) + STEP * (i + 1): round(base + 0.001 * (i % 7), 3) for i in range(96)}


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    hub = Hub.build(Settings(database_url=database_url, default_tenant=TENANT))
    reports = import_files(hub.database, TENANT, write_discom(tmp_path, 5))
    assert all(r.applied for r in reports)
    yield hub
    hub.close()


@pytest.fixture
def send(hub: Hub) -> Callable[[bytes], Answer]:
    return lambda raw: hub.pipeline.process(Inbound(raw, TENANT, "test"))


def meter(i: int) -> str:
    return f"SM{i:07d}"


def ids(hub: Hub, *meters: int) -> tuple[int, int, list[int]]:
    with hub.database.unit_of_work() as uow:
        tenant = uow.tenants.ensure(TENANT)
        found = uow.meters.find(tenant, [MeterRef(meter(i)) for i in meters])
        rt = uow.reading_types.find_ids([KWH]).get(KWH, 0)
        return tenant, rt, [m for m in found if m]


def current(hub: Hub, meter_no: int, stamps: list[int]) -> list[tuple[float, str, str]]:
    """(value, quality, method) of the validated intervals at ``stamps``."""
    tenant, rt, [m] = ids(hub, meter_no)
    with hub.database.unit_of_work() as uow:
        repo = ValidatedRepository(uow)
        return [
            (v.value, v.quality, v.method)
            for v in (repo.versions(tenant, m, rt, ts)[-1] for ts in stamps)
        ]


def findings(hub: Hub, meter_no: int, rule: str, *, cleared: bool = False) -> list:
    tenant, _, [m] = ids(hub, meter_no)
    with hub.database.unit_of_work() as uow:
        found = FindingRepository(uow).query(
            tenant, meter_ids=[m], rules=[rule], include_cleared=cleared
        )
    return found


def outage(send: Callable[[bytes], Answer], meter_no: int, start: int, end: int) -> Answer:
    answer = send(
        created_end_device_events(
            [Ev(meter(meter_no), iso(start), OFF), Ev(meter(meter_no), iso(end), ON)]
        )
    )
    assert answer.result.value == "OK", answer.body
    return answer


def with_zero_run(base: float, first: int, last: int, lost: tuple[int, ...] = ()) -> dict:
    """Day D at ``base`` with zeros for the intervals ending in (first, last], and the
    intervals ending at ``lost`` never sent."""
    values = day_of(base)
    for ts in values:
        if first < ts <= last:
            values[ts] = 0.0
    for ts in lost:
        del values[ts]
    return values


def test_a_zero_run_inside_an_outage_is_not_flagged_and_a_gap_in_it_is_zero(
    hub: Hub, send: Callable[[bytes], Answer]
) -> None:
    # supply lost 09:00–14:00: 20 zero intervals, of which 11:00 and 11:15 never arrive
    outage(send, 0, at(0, 9), at(0, 14))
    lost = (at(0, 11), at(0, 11.25))
    reply = send(readings_message(meter(0), {KWH: with_zero_run(0.3, at(0, 9), at(0, 14), lost)}))
    assert reply.result.value == "OK", reply.body
    assert findings(hub, 0, "usage.zero") == []
    [gap] = findings(hub, 0, "interval.missing")
    assert (gap.first_ts, gap.last_ts) == lost
    assert current(hub, 0, list(lost)) == [(0.0, "3.8.0 3.5.259", "estimated:outage_zero")] * 2


def test_outages_are_known_for_a_meter_or_its_head_end_else_the_zero_rule_stays_quiet(
    hub: Hub, send: Callable[[bytes], Answer]
) -> None:
    outage(send, 0, at(-1, 9), at(-1, 10))  # SM0 of HES-A: HES-A reports power events
    tenant, _, (m0, m1, m3) = ids(hub, 0, 1, 3)
    with hub.database.unit_of_work() as uow:
        contexts = StoreMasterData(uow).contexts(tenant, [m0, m1, m3], D, at(1, 0))
        earlier = StoreMasterData(uow).contexts(tenant, [m0], D, at(1, 0), outages_from=at(-1, 0))
    assert contexts[m0].outages == () and contexts[m3].outages == ()  # known: none that day
    assert contexts[m1].outages is None  # HES-B never sent a power event: unknown
    assert earlier[m0].outages == ((at(-1, 9), at(-1, 10)),)  # from the like-day lookback
    # the same 20 zero intervals on SM3 (HES-A, no outage) and SM1 (HES-B, unknown)
    for i in (3, 1):
        send(readings_message(meter(i), {KWH: with_zero_run(0.4, at(0, 9), at(0, 14))}))
    [zero] = findings(hub, 3, "usage.zero")
    assert (zero.first_ts, zero.last_ts, zero.count) == (at(0, 9.25), at(0, 14), 20)
    assert findings(hub, 1, "usage.zero") == []


def test_late_power_events_clear_the_zero_finding_and_turn_the_gap_estimates_to_zero(
    hub: Hub, send: Callable[[bytes], Answer], receiver_url: Receiver
) -> None:
    hub.bus.put_subscription(  # type: ignore[union-attr]
        Subscription("billing", "MeterReadings", ("changed",), receiver_url.url)
    )
    outage(send, 0, at(-1, 9), at(-1, 10))  # HES-A reports power events
    # SM3's readings first: zeros 09:15–13:30, 13:45 and 14:00 lost, 0.5 again at 14:15
    lost = (at(0, 13.75), at(0, 14))
    send(readings_message(meter(3), {KWH: with_zero_run(0.5, at(0, 9), at(0, 14), lost)}))
    [zero] = findings(hub, 3, "usage.zero")
    assert (zero.first_ts, zero.last_ts) == (at(0, 9.25), at(0, 13.5))
    right = day_of(0.5)[at(0, 14.25)]
    # linear from 0.0 (13:30) to the 14:15 value: thirds of the way
    before = current(hub, 3, list(lost))
    assert [round(v, 6) for v, _, _ in before] == [round(right / 3, 6), round(2 * right / 3, 6)]
    assert {m for _, _, m in before} == {"estimated:linear_interpolation"}
    # then the head-end's power events: supply was off 09:00–14:00
    answer = outage(send, 3, at(0, 9), at(0, 14))
    assert "re-judged" in ParsedReply.of(answer.body).reasons[0]
    assert findings(hub, 3, "usage.zero") == []
    [cleared] = findings(hub, 3, "usage.zero", cleared=True)
    assert cleared.id == zero.id and cleared.cleared_at is not None
    assert current(hub, 3, list(lost)) == [(0.0, "3.8.0 3.5.259", "estimated:outage_zero")] * 2
    # billing hears of the changed values as MeterReadings changed, with the events message
    [body] = receiver_url.wait_for(1)
    changed = _readings(body)
    assert changed[lost[0]] == (0.0, "3.8.0 3.5.259") and changed[lost[1]][0] == 0.0
    assert changed[at(0, 12)] == (0.0, "3.0.1")  # no longer flagged zero usage


def test_interpolation_never_ends_on_an_interval_inside_an_outage(
    hub: Hub, send: Callable[[bytes], Answer]
) -> None:
    # supply off for the interval ending 10:00 (0.0 arrives); 10:15 and 10:30 never
    # arrive. Without the outage: linear from 0.0 (10:00) to 10:45's value. With it: 0.0
    # may not be an end point, there is no like-day history, so the nearest usable value
    # on the other side, 10:45's, fills both.
    outage(send, 0, at(0, 9.75), at(0, 10))
    values = day_of(0.3)
    values[at(0, 10)] = 0.0
    gap = [at(0, 10.25), at(0, 10.5)]
    for ts in gap:
        del values[ts]
    send(readings_message(meter(0), {KWH: values}))
    right = values[at(0, 10.75)]
    assert current(hub, 0, gap) == [(right, "3.8.0 3.5.259", "estimated:nearest_value")] * 2


def test_like_days_leave_out_days_with_outages(hub: Hub, send: Callable[[bytes], Answer]) -> None:
    # SM4 (6 kW). Thu 0.6, Fri 0.4, Sat and Sun 0.3, Mon 0.2, Tue 0.35 with an outage
    # 02:00–03:00 (zeros); Wednesday 10:00–14:00 never arrives (16 intervals: like days).
    # The 3 nearest weekdays are Tue, Mon, Fri — but Tue had an outage: Mon, Fri, Thu.
    outage(send, 4, at(-1, 2), at(-1, 3))
    history: dict[int, float] = {}
    for day, base in ((-6, 0.6), (-5, 0.4), (-4, 0.3), (-3, 0.3), (-2, 0.2), (-1, 0.35)):
        history |= day_of(base, day)
    for ts in history:
        if at(-1, 2) < ts <= at(-1, 3):
            history[ts] = 0.0
    assert send(readings_message(meter(4), {KWH: history})).result.value == "OK"
    wednesday = day_of(0.3)
    gap = [ts for ts in wednesday if at(0, 10) < ts <= at(0, 14)]
    for ts in gap:
        del wednesday[ts]
    send(readings_message(meter(4), {KWH: wednesday}))
    got = current(hub, 4, gap)
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


@pytest.fixture
def receiver_url() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r
