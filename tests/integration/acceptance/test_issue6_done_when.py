"""Issue 6, done when: with the HES simulator running two vendors — a CIM head-end (SOAP
both ways) for DT0's even meters and an MQTT vendor-b head-end for its odd ones — against
a hub on PostgreSQL and the real RabbitMQ (serve publishes, a `cimhub worker` handles) with
Mosquitto, (a) a disconnect list from billing is approved and executed end to end and
billing hears each outcome on the bus, (b) a tamper burst opens exceptions and a service
order per meter, (c) an outage is derived per meter and for the DT, and OMS is told, (d) a
missed-interval gap on each head-end is re-read for exactly its period and re-acquired.
What the simulator injected (its ground truth) is what the hub must have found.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from kombu import Connection, Queue
from lxml import etree

from cimhub.adapters.profile import load_profile
from cimhub.app import Hub
from cimhub.domain.meter_read import Period
from cimhub.domain.outage import Outage, OutageKind
from cimhub.imports.csv_import import import_files
from cimhub.settings import Settings
from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.cim_head_end import HttpHes
from cimhub.simulator.cim_writer import PERIOD
from cimhub.simulator.faults import FaultKind, FaultPlan, GroundTruth
from cimhub.simulator.fleet import from_csv
from cimhub.simulator.mqtt_head_end import MqttHes
from cimhub.simulator.simulation import Simulation
from cimhub.store.commands import HesEndpoint
from cimhub.store.dt_outages import DtOutageRepository
from cimhub.store.events import EventRepository
from cimhub.store.models import IntervalReading
from cimhub.store.subscriptions import Subscription
from cimhub.testing.bus import FAST, ThreadWorker
from cimhub.testing.commands import (
    DISCONNECT,
    HEADERS,
    TENANT,
    command,
    control,
    open_gaps,
    qualities,
    read_commands,
    set_endpoint,
)
from cimhub.testing.masterdata import write_discom
from cimhub.testing.receiver import Receiver
from cimhub.testing.waiting import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
MQTT_URL = "mqtt://127.0.0.1:1883"
IST = 19_800
#: Midnight (IST) two days ago: recent, so the meters still hold it when a gap is re-read.
T0 = ((int(time.time()) + IST) // 86_400 - 2) * 86_400 - IST
H = 3600
OFF, ON = "3.26.0.85", "3.26.0.216"
EDC = "http://iec.ch/TC57/2011/EndDeviceControls#"
EDE = "http://iec.ch/TC57/2011/EndDeviceEvents#"
MSR = "http://iec.ch/TC57/2011/MeterServiceRequests#"
DT0 = [f"SM{i:07d}" for i in range(10)]  # even: HES-A (CIM), odd: HES-B (MQTT)


@dataclass
class Stack:
    hub: Hub
    base: str
    sim: Simulation
    cim: HttpHes
    mqtt: MqttHes
    plan: FaultPlan
    truth: GroundTruth
    billing: Any  # the requester's queue on RabbitMQ
    oms: Receiver
    wfm: Receiver


@pytest.fixture
def stack(
    serve: Callable[..., Any],
    database_url: str,
    amqp_url: str,
    start_worker: Callable[[Settings], ThreadWorker],
    tmp_path: Path,
) -> Iterator[Stack]:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    overrides = {**FAST, "broker_url": amqp_url, "mqtt_url": MQTT_URL, "mqtt_vendors": "vendor-b",
                 "mqtt_topic_prefix": prefix, "default_tenant": TENANT,
                 "notify_url": f"file://{tmp_path / 'notes.jsonl'}"}  # fmt: skip
    start_worker(Settings(database_url=database_url, **overrides))  # type: ignore[arg-type]
    hub, base = serve(**overrides)
    files = write_discom(tmp_path, 10, head_ends=("HES-A", "HES-B"))
    assert all(r.applied for r in import_files(hub.database, TENANT, files))
    truth = GroundTruth()
    cim = HttpHes(base, name="HES-A", tenant=TENANT, transport="soap",
                  behaviour=Behaviour(truth=truth)).up()  # fmt: skip
    mqtt = MqttHes(MQTT_URL, load_profile("vendor-b"), prefix, behaviour=Behaviour(truth=truth))
    set_endpoint(hub, HesEndpoint("HES-A", "soap", cim.url))
    set_endpoint(hub, HesEndpoint("HES-B", "mqtt", vendor="vendor-b"))
    hub.start_commands()
    wait_until(lambda: hub.commands.mqtt.connected)
    meters = [replace(m, interval=900 if m.hes == "HES-A" else 1800)  # vendor-b: 30 minutes
              for m in from_csv(files[2]) if m.serial in DT0]  # fmt: skip
    plan = FaultPlan()
    sim = Simulation(meters, {"HES-A": cim, "HES-B": mqtt.start()}, start=T0, plan=plan,
                     truth=truth)  # fmt: skip
    with Receiver() as oms, Receiver() as wfm, Connection(amqp_url) as connection:
        billing = Queue("billing.outcomes", durable=True)(connection.default_channel)
        billing.declare()
        for sub in (
            Subscription("billing", "EndDeviceControls", ("changed",), "billing.outcomes",
                         tenant=TENANT, protocol="amqp"),
            Subscription("oms", "EndDeviceEvents", ("created",), oms.url, tenant=TENANT,
                         event_types=(OFF, ON)),
            Subscription("wfm", "MeterServiceRequests", ("created",), wfm.url, tenant=TENANT),
        ):  # fmt: skip
            hub.bus.put_subscription(sub)
        try:
            sim.step(T0 + 2 * H)  # two quiet hours of profiles from both head-ends first
            yield Stack(hub, base, sim, cim, mqtt, plan, truth, billing, oms, wfm)
        finally:
            cim.down()
            mqtt.stop()


def _rest(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base}/api/v1{path}", headers=HEADERS, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _outcomes(queue: Any, wanted: set[str]) -> dict[str, str]:
    """The last status billing heard per command, read off its queue until every wanted
    command has executed or failed."""
    heard: dict[str, str] = {}

    def drain() -> bool:
        while (message := queue.get(no_ack=True)) is not None:
            for el in etree.fromstring(message.body).iter(f"{{{EDC}}}EndDeviceControl"):
                heard[el.findtext(f"{{{EDC}}}mRID")] = el.findtext(
                    f".//{{{EDC}}}status/{{{EDC}}}value"
                )
        return all(heard.get(m) in ("executed", "failed") for m in wanted)

    wait_until(drain, timeout=60)
    return {m: heard[m] for m in wanted}


def test_a_disconnect_list_is_approved_and_executed_on_both_head_ends(stack: Stack) -> None:
    s = stack
    targets = {"L-0": "SM0000000", "L-1": "SM0000001", "L-2": "SM0000002", "L-3": "SM0000003"}
    for mrid, meter in targets.items():
        body = control(mrid, DISCONNECT, meter, "billing-batch")
        reply = httpx.post(f"{s.base}/cim", content=body, headers=HEADERS, timeout=60)
        assert ">awaiting_approval<" in reply.text, reply.text
    assert s.cim.received == [] and s.mqtt.received == []  # nothing goes before approval
    approved = httpx.post(f"{s.base}/api/v1/commands/approve", headers={"X-Cimhub-Tenant": TENANT},
                          json={"mrids": sorted(targets)}, timeout=30)  # fmt: skip
    assert approved.json() == {"approved": sorted(targets), "refused": []}
    for mrid in targets:
        wait_until(lambda m=mrid: command(s.base, m)["state"] == "executed", timeout=60)
    assert sorted((m, k, meter) for m, k, meter in s.cim.received) == [
        ("L-0", "disconnect", "SM0000000"), ("L-2", "disconnect", "SM0000002"),
    ]  # fmt: skip
    assert sorted((c["reqId"], c["devId"], c["cmd"]) for c in s.mqtt.received) == [
        ("L-1", "SM0000001", "DISCONNECT"), ("L-3", "SM0000003", "DISCONNECT"),
    ]  # fmt: skip
    assert [t["state"] for t in command(s.base, "L-1")["transitions"]] == [
        "requested", "awaiting_approval", "approved", "sent", "acknowledged", "executed",
    ]  # fmt: skip
    assert _outcomes(s.billing, set(targets)) == dict.fromkeys(targets, "executed")
    assert s.truth.faults == []  # the head-ends failed nothing


def test_a_tamper_burst_opens_exceptions_and_a_service_order_per_meter(stack: Stack) -> None:
    s = stack
    s.plan.tamper_burst("SM0000000", T0 + 2 * H + 600)  # CIM: every ID as a CIM type
    s.plan.tamper_burst("SM0000001", T0 + 2 * H + 900)  # vendor-b maps 251, 65, 203 only
    s.sim.step(T0 + 3 * H)
    expected = {
        ("SM0000000", rule) for rule in ("tamper.cover_open", "tamper.magnetic",
            "tamper.reverse_energy", "tamper.neutral_disturbance", "tamper.ct_bypass")
    } | {
        ("SM0000001", rule) for rule in ("tamper.cover_open", "tamper.ct_bypass",
                                         "tamper.neutral_disturbance")
    }  # fmt: skip
    found = wait_until(
        lambda: len(items := _rest(s.base, "/exceptions", kind="tamper")["items"]) >= 8 and items,
        timeout=60,
    )
    assert {(i["meter"], i["rule"]) for i in found} == expected
    assert {f.meters[0] for f in s.truth.of(FaultKind.TAMPER)} == {m for m, _ in expected}
    orders = {o["id"]: o for o in _rest(s.base, "/service-orders")["items"]}
    assert len(orders) == 2  # one field visit per meter
    for meter in ("SM0000000", "SM0000001"):
        (order_id,) = {i["service_order_id"] for i in found if i["meter"] == meter}
        assert order_id in orders
    s.hub.bus.relay.wake()
    sent = s.wfm.wait_for(2, timeout=60)
    told = {etree.fromstring(body).findtext(f".//{{{MSR}}}mRID") for body in sent}
    assert told == {o["mrid"] for o in orders.values()}


def test_an_outage_is_derived_per_meter_and_for_the_dt_and_oms_is_told(stack: Stack) -> None:
    s = stack
    out = DT0[:7]  # seven of ten meters, on both head-ends: above the DT share (60 %)
    fault = s.plan.outage(out, T0 + 2 * H + 600, T0 + 2 * H + 600 + 40 * 60)
    s.sim.step(T0 + 4 * H)
    assert s.truth.of(FaultKind.OUTAGE) == [fault]

    def outages() -> dict[str, list[Outage]]:
        with s.hub.database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.ensure(TENANT)
            events = EventRepository(uow)
            found = {}
            for meter in DT0:
                (meter_id,) = uow.meters.find(tenant_id, [_ref(meter)])
                found[meter] = events.outages(tenant_id, meter_id)
            return found

    sustained = [Outage(fault.start, fault.end, OutageKind.SUSTAINED)]
    wait_until(lambda: all(outages()[m] == sustained for m in out), timeout=60)
    assert outages() == {m: sustained if m in out else [] for m in DT0}
    with s.hub.database.unit_of_work(hub=True) as uow:
        (dt,) = DtOutageRepository(uow).outages(uow.tenants.ensure(TENANT), "DT0")
    assert (dt.start, dt.end, dt.meters_total) == (fault.start, fault.end, 10)
    s.hub.bus.relay.wake()

    def told() -> list[tuple[str, str]]:
        return [(kind, dt) for body in s.oms.bodies for kind, dt in _dt_events(body)]

    assert wait_until(lambda: len(t := told()) == 2 and t, timeout=60) == [
        (OFF, "DT0"),
        (ON, "DT0"),
    ]
    meter_level = {(m, kind) for body in s.oms.bodies for m, kind in _meter_events(body)}
    assert meter_level == {(m, kind) for m in out for kind in (OFF, ON)}


def test_a_missed_interval_gap_on_each_head_end_is_re_read_and_re_acquired(
    stack: Stack,
) -> None:
    s = stack
    cim_gap = s.plan.missing("SM0000002", T0 + 2 * H + 1800, T0 + 3 * H)  # two 15-min blocks
    mqtt_gap = s.plan.missing("SM0000003", T0 + 2 * H, T0 + 3 * H)  # two 30-min blocks
    s.sim.step(T0 + 4 * H)
    assert s.truth.of(FaultKind.MISSING) == [cim_gap, mqtt_gap]
    meters = {"SM0000002": cim_gap, "SM0000003": mqtt_gap}
    wait_until(lambda: len(open_gaps(s.hub)) == 2, timeout=60)
    wait_until(lambda: _newest(s.hub) == [T0 + 4 * H] * len(DT0), timeout=60)  # all in
    report = s.hub.sweep_rereads()[TENANT]
    # the simulation stopped at T0 + 4 h: every meter is silent since, and read up to now
    assert (report["silent"], report["asked"]) == (len(DT0), 2 + len(DT0))
    reads = read_commands(s.hub)
    asked = {r.command.period for r in reads if "missed intervals" in r.command.reason}
    assert asked == {Period(f.start, f.end) for f in meters.values()}  # exactly the gaps
    silent = {r.command.period.start for r in reads if "silent" in r.command.reason}
    assert silent == {T0 + 4 * H}  # from the newest block on
    wait_until(lambda: open_gaps(s.hub) == [], timeout=60)
    for serial, fault in meters.items():
        meter = s.sim.generator.meter(serial)
        blocks = s.sim.generator.blocks(meter, fault.start, fault.end)
        kwh = f"0.0.{PERIOD[meter.interval]}.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
        stamps = [b.end for b in blocks]
        assert len(stamps) == 2
        assert qualities(s.base, serial, stamps, kwh) == ["3.0.1"] * 2  # read, not estimated
        assert _stored(s.hub, serial, kwh, stamps) == [b.kwh_import for b in blocks]
    assert s.hub.sweep_rereads()[TENANT]["asked"] == 0


def _newest(hub: Hub) -> list[int]:
    """Each meter's newest interval reading."""
    from sqlalchemy import func, select

    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        return sorted(uow.session.scalars(
            select(func.max(IntervalReading.ts)).where(IntervalReading.tenant_id == tenant_id)
            .group_by(IntervalReading.meter_id)
        ))  # fmt: skip


def _stored(hub: Hub, meter: str, code: str, stamps: list[int]) -> list[float]:
    """The raw values the hub holds for a meter's reading type at ``stamps``."""
    from sqlalchemy import select

    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        (meter_id,) = uow.meters.find(tenant_id, [_ref(meter)])
        (type_id,) = uow.reading_types.ids_for([code]).values()
        rows = uow.session.execute(
            select(IntervalReading.ts, IntervalReading.value).where(
                IntervalReading.tenant_id == tenant_id, IntervalReading.meter_id == meter_id,
                IntervalReading.reading_type_id == type_id, IntervalReading.ts.in_(stamps),
            )
        ).all()  # fmt: skip
    found = dict(rows)
    return [round(found[t], 6) for t in stamps if t in found]


def _ref(meter: str) -> Any:
    from cimhub.domain.reading import MeterRef

    return MeterRef(meter)


def _details(ev: Any) -> dict[str, str]:
    return {
        d.findtext(f"{{{EDE}}}name"): d.findtext(f"{{{EDE}}}value")
        for d in ev.iter(f"{{{EDE}}}EndDeviceEventDetails")
    }


def _dt_events(body: bytes) -> list[tuple[str, str]]:
    """(type, DT) of each DT-level event in a message to OMS."""
    return [
        (ev.find(f"{{{EDE}}}EndDeviceEventType").get("ref"),
         ev.findtext(f"{{{EDE}}}Assets/{{{EDE}}}Names/{{{EDE}}}name"))
        for ev in etree.fromstring(body).iter(f"{{{EDE}}}EndDeviceEvent")
        if _details(ev).get("scope") == "DistributionTransformer"
    ]  # fmt: skip


def _meter_events(body: bytes) -> list[tuple[str, str]]:
    """(meter, type) of each meter-level event in a message to OMS."""
    return [
        (ev.findtext(f"{{{EDE}}}Assets/{{{EDE}}}mRID") or "",
         ev.find(f"{{{EDE}}}EndDeviceEventType").get("ref"))
        for ev in etree.fromstring(body).iter(f"{{{EDE}}}EndDeviceEvent")
        if _details(ev).get("scope") != "DistributionTransformer"
    ]  # fmt: skip
