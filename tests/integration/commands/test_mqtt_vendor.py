"""MQTT vendor adapters on the real Mosquitto: vendor JSON reads and events in, commands out
and their status back, with the shipped vendor profiles (a unique topic prefix per run)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cimhub.adapters.profile import load_profile
from cimhub.app import Hub
from cimhub.simulator.mqtt_head_end import MqttHes
from cimhub.store.commands import HesEndpoint
from cimhub.store.dead_letters import EVERY_TENANT, DeadLetterRepository
from cimhub.store.event_models import EventRow
from cimhub.store.models import IntervalReading
from cimhub.testing.commands import (
    CONNECT,
    HEADERS,
    TENANT,
    command,
    control,
    seed_meters,
    set_endpoint,
)
from cimhub.testing.waiting import wait_until

MQTT_URL = "mqtt://127.0.0.1:1883"
KWH_15, KWH_30 = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0", "0.0.5.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
VOLT_15 = "0.2.2.6.0.1.54.0.0.0.0.0.0.0.128.0.29.0"
T0 = 1_718_425_800  # 2024-06-15T04:30:00Z


@pytest.fixture
def mqtt_hub(serve: Callable[..., Any]) -> tuple[Hub, str, str]:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    hub, base = serve(
        mqtt_url=MQTT_URL,
        mqtt_vendors="vendor-a,vendor-b",
        mqtt_topic_prefix=prefix,
        default_tenant=TENANT,
    )
    hub.start_commands()
    wait_until(lambda: hub.commands.mqtt.connected)
    return hub, base, prefix


def readings(hub: Hub, meter_mrid: str) -> dict[str, list[tuple[int, float]]]:
    with hub.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        (meter_id,) = uow.meters.find(tenant_id, [_ref(meter_mrid)])
        rows = uow.session.execute(
            select(IntervalReading.reading_type_id, IntervalReading.ts, IntervalReading.value)
            .where(IntervalReading.tenant_id == tenant_id, IntervalReading.meter_id == meter_id)
            .order_by(IntervalReading.ts)
        ).all()
        codes = uow.reading_types.codes_for({r[0] for r in rows})
    out: dict[str, list[tuple[int, float]]] = {}
    for type_id, ts, value in rows:
        out.setdefault(codes[type_id], []).append((ts, round(value, 6)))
    return out


def _ref(mrid: str) -> Any:
    from cimhub.domain.reading import MeterRef

    return MeterRef(mrid)


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def test_vendor_a_block_load_lands_as_readings_with_scalers(
    mqtt_hub: tuple[Hub, str, str], tmp_path: Path
) -> None:
    hub, _base, prefix = mqtt_hub
    seed_meters(hub, tmp_path, {"M-A": "HES-A"})
    sim = MqttHes(MQTT_URL, load_profile("vendor-a"), prefix).start()
    try:
        sim.publish_block_load(
            "SN-M-A",
            [
                {"ts": iso(T0 + 900), "1.0.1.29.0.255": 125, "1.0.12.27.0.255": 23012, "rssi": -70},
                {"ts": iso(T0 + 1800), "1.0.1.29.0.255": 250, "1.0.12.27.0.255": 22998},
            ],
        )
        found = wait_until(lambda: (r := readings(hub, "M-A")) and len(r) == 2 and r)
    finally:
        sim.stop()
    assert found == {
        KWH_15: [(T0 + 900, 0.125), (T0 + 1800, 0.25)],
        VOLT_15: [(T0 + 900, 230.12), (T0 + 1800, 229.98)],
    }


def test_vendor_b_rows_land_and_a_bad_payload_is_refused_alone(
    mqtt_hub: tuple[Hub, str, str], tmp_path: Path
) -> None:
    hub, _base, prefix = mqtt_hub
    seed_meters(hub, tmp_path, {"M-B": "HES-B"})
    profile = load_profile("vendor-b")
    sim = MqttHes(MQTT_URL, profile, prefix).start()
    try:
        sim.publish("readings", {"devId": "SN-M-B", "data": [{"t": "not a time", "v": 1}]})
        sim.publish_block_load(
            "SN-M-B",
            [
                {"t": T0 + 1800, "obis": "1.0.1.29.0.255", "v": 0.5},
                {"t": T0 + 3600, "obis": "1.0.1.29.0.255", "v": 0.75},
            ],
        )
        found = wait_until(lambda: readings(hub, "M-B"))
    finally:
        sim.stop()
    assert found == {KWH_30: [(T0 + 1800, 0.5), (T0 + 3600, 0.75)]}
    assert len(hub.commands.mqtt.rejected) == 1
    assert hub.commands.mqtt.rejected[0][1] == "bad time 'not a time'"
    with hub.database.unit_of_work(hub=True) as uow:
        (letter,) = DeadLetterRepository(uow).list(EVERY_TENANT)
    assert (letter.queue, letter.reason) == (
        f"mqtt:{prefix}/vendor-b/data/lp",
        "2.1 bad time 'not a time'",
    )


def test_vendor_events_are_mapped_and_unknown_ids_kept(
    mqtt_hub: tuple[Hub, str, str], tmp_path: Path
) -> None:
    hub, _base, prefix = mqtt_hub
    seed_meters(hub, tmp_path, {"M-E": "HES-A"})
    sim = MqttHes(MQTT_URL, load_profile("vendor-a"), prefix).start()
    try:
        sim.publish_event("SN-M-E", "101", iso(T0))
        sim.publish_event("SN-M-E", "999", iso(T0 + 60))

        def stored() -> list[tuple[str, str | None]]:
            with hub.database.unit_of_work(hub=True) as uow:
                rows = uow.session.execute(
                    select(EventRow.event_type, EventRow.vendor_code).order_by(EventRow.ts)
                ).all()
            return [(t, c) for t, c in rows]

        found = wait_until(lambda: len(s := stored()) == 2 and s)
    finally:
        sim.stop()
    assert found == [("3.26.0.85", "101"), ("IS15959.EventID=999", "999")]


@pytest.mark.parametrize("vendor", ["vendor-a", "vendor-b"])
def test_connect_round_trip_over_mqtt(
    mqtt_hub: tuple[Hub, str, str], tmp_path: Path, vendor: str
) -> None:
    hub, base, prefix = mqtt_hub
    seed_meters(hub, tmp_path, {"M-C": "HES-MQ"})
    set_endpoint(hub, HesEndpoint("HES-MQ", "mqtt", vendor=vendor))
    profile = load_profile(vendor)
    sim = MqttHes(MQTT_URL, profile, prefix).start()
    try:
        httpx.post(f"{base}/cim", content=control("C-MQ", CONNECT, "M-C"), headers=HEADERS)
        done = wait_until(lambda: (b := command(base, "C-MQ"))["state"] == "executed" and b)
    finally:
        sim.stop()
    assert [t["state"] for t in done["transitions"]] == [
        "requested", "approved", "sent", "acknowledged", "executed",
    ]  # fmt: skip
    (sent,) = sim.received
    spec = profile.commands
    assert sent[spec["meter"]] == "SN-M-C"
    assert sent[spec["action"]] == profile.command_words["connect"]
    assert json.loads(json.dumps(sent))[spec["id"]] == "C-MQ"


def test_a_persistent_session_gets_what_was_published_while_the_hub_was_away() -> None:
    from cimhub.adapters.mqtt import MqttAdapter

    prefix, client_id = f"test-{uuid.uuid4().hex[:10]}", f"cimhub-test-{uuid.uuid4().hex[:8]}"
    profile = load_profile("vendor-b")
    got: list[bytes] = []

    def adapter() -> MqttAdapter:
        a = MqttAdapter(MQTT_URL, [profile], lambda raw, _t: got.append(raw) or "OK",
                        tenant=TENANT, prefix=prefix, client_id=client_id)  # fmt: skip
        a.start()
        wait_until(lambda: a.connected)
        return a

    first = adapter()
    first.stop()  # away; the broker keeps the session and its QoS 1 messages
    sim = MqttHes(MQTT_URL, profile, prefix).start()
    try:
        sim.publish_block_load("SN-P", [{"t": T0 + 1800, "obis": "1.0.1.29.0.255", "v": 1.5}])
    finally:
        sim.stop()
    second = adapter()
    try:
        wait_until(lambda: got)
    finally:
        second.stop()
        _forget_session(client_id)
    assert b"SN-P" in got[0]


def _forget_session(client_id: str) -> None:
    """Leave no session behind on the broker: connect once more with a clean session."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect("127.0.0.1", 1883)
    client.disconnect()


def test_a_disconnect_list_over_two_head_ends_cim_and_mqtt_is_approved_and_executed(
    mqtt_hub: tuple[Hub, str, str], tmp_path: Path
) -> None:
    from cimhub.simulator.cim_head_end import HttpHes
    from cimhub.testing.commands import DISCONNECT

    hub, base, prefix = mqtt_hub
    seed_meters(hub, tmp_path, {"M-H1": "HES-CIM", "M-H2": "HES-CIM", "M-Q1": "HES-MQTT"})
    cim = HttpHes(base, name="HES-CIM", tenant=TENANT).up()
    mqtt_sim = MqttHes(MQTT_URL, load_profile("vendor-a"), prefix).start()
    try:
        set_endpoint(hub, HesEndpoint("HES-CIM", "http", cim.url))
        set_endpoint(hub, HesEndpoint("HES-MQTT", "mqtt", vendor="vendor-a"))
        for mrid, meter in (("L-1", "M-H1"), ("L-2", "M-H2"), ("L-3", "M-Q1")):
            body = control(mrid, DISCONNECT, meter, user="billing-batch")
            httpx.post(f"{base}/cim", content=body, headers=HEADERS)
        approved = httpx.post(
            f"{base}/api/v1/commands/approve",
            headers={"X-Cimhub-Tenant": TENANT},
            json={"mrids": ["L-1", "L-2", "L-3"]},
        )
        assert approved.json() == {"approved": ["L-1", "L-2", "L-3"], "refused": []}
        for mrid in ("L-1", "L-2", "L-3"):
            wait_until(lambda m=mrid: command(base, m)["state"] == "executed")
    finally:
        cim.down()
        mqtt_sim.stop()
    assert sorted(m for m, *_ in cim.received) == ["L-1", "L-2"]
    assert [c["requestId"] for c in mqtt_sim.received] == ["L-3"]
