"""Time sync, MD reset and prepaid/postpaid switches, for one meter or a group, through a
CIM head-end (the simulator over HTTP), both MQTT vendors, and the meter's own events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cimhub.adapters.profile import load_profile
from cimhub.bus.pipeline import Inbound
from cimhub.simulator.cim_head_end import HttpHes
from cimhub.simulator.mqtt_head_end import MqttHes
from cimhub.store.commands import CommandRepository, HesEndpoint
from cimhub.testing.commands import (
    HEADERS,
    MD_RESET,
    POSTPAID,
    PREPAID,
    TENANT,
    TIME_SYNC,
    command,
    control,
    group_control,
    seed_meters,
    set_endpoint,
)
from cimhub.testing.replies import ParsedReply
from cimhub.testing.waiting import wait_until

MQTT_URL = "mqtt://127.0.0.1:1883"
#: The head-end's outcome may overtake its acknowledgement (the simulator reports at once).
EXECUTED = (["requested", "approved", "sent", "acknowledged", "executed"],
            ["requested", "approved", "sent", "executed"])  # fmt: skip


def post(base: str, body: bytes) -> ParsedReply:
    reply = httpx.post(f"{base}/cim", content=body, headers=HEADERS)
    return ParsedReply.of(reply.content)


def done(base: str, mrid: str) -> dict[str, Any]:
    return wait_until(lambda: (b := command(base, mrid))["state"] == "executed" and b)


def states(body: dict[str, Any]) -> list[str]:
    return [t["state"] for t in body["transitions"]]


def test_the_new_kinds_for_a_group_and_one_meter_through_a_cim_head_end(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    sim = HttpHes(base, name="HES-SIM", tenant=TENANT).up()
    try:
        seed_meters(hub, tmp_path, {m: "HES-SIM" for m in ("M-1", "M-2", "M-3")})
        set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.url))
        hub.start_commands()
        group = post(base, group_control("T-1", TIME_SYNC, ["M-1"], group=["M-2", "M-3"]))
        assert (group.result, group.codes) == ("OK", ["0.0"])
        assert post(base, control("R-1", MD_RESET, "M-1")).result == "OK"
        assert post(base, control("P-1", POSTPAID, "M-2")).result == "OK"
        synced = [done(base, f"T-1:{m}") for m in ("M-1", "M-2", "M-3")]
        reset, postpaid = done(base, "R-1"), done(base, "P-1")
    finally:
        sim.down()
    assert all(states(b) in EXECUTED for b in (*synced, reset, postpaid))
    assert {b["kind"] for b in synced} == {"time_sync"}
    reasons = [b["transitions"][-1]["reason"] for b in (synced[0], reset, postpaid)]
    assert reasons == ["clock set", "MD reset", "switched to postpaid"]
    assert sorted((m, k) for m, k, _ in sim.received) == [
        ("P-1", "postpaid_mode"),
        ("R-1", "md_reset"),
        ("T-1:M-1", "time_sync"),
        ("T-1:M-2", "time_sync"),
        ("T-1:M-3", "time_sync"),
    ]


def test_a_switch_to_prepaid_waits_for_a_second_person_then_runs(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    sim = HttpHes(base, name="HES-SIM", tenant=TENANT).up()
    try:
        seed_meters(hub, tmp_path, {"M-4": "HES-SIM"})
        set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.url))
        hub.start_commands()
        asked = httpx.post(f"{base}/cim", content=control("Q-4", PREPAID, "M-4"), headers=HEADERS)
        assert ">awaiting_approval<" in asked.text
        assert sim.received == []  # nothing goes out before the approval
        approved = httpx.post(f"{base}/api/v1/commands/Q-4/approve", headers=HEADERS)
        assert approved.status_code == 200, approved.text
        finished = done(base, "Q-4")
    finally:
        sim.down()
    assert states(finished)[:4] == ["requested", "awaiting_approval", "approved", "sent"]
    assert finished["transitions"][-1]["reason"] == "switched to prepaid"
    assert [(m, k) for m, k, _ in sim.received] == [("Q-4", "prepaid_mode")]


@pytest.mark.parametrize("vendor", ["vendor-a", "vendor-b"])
def test_the_new_kinds_in_each_vendor_s_words_over_mqtt(
    serve: Callable[..., Any], tmp_path: Path, vendor: str
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    hub, base = serve(mqtt_url=MQTT_URL, mqtt_vendors="vendor-a,vendor-b",
                      mqtt_topic_prefix=prefix, default_tenant=TENANT)  # fmt: skip
    hub.start_commands()
    wait_until(lambda: hub.commands.mqtt.connected)
    seed_meters(hub, tmp_path, {"M-5": "HES-MQ", "M-6": "HES-MQ"})
    set_endpoint(hub, HesEndpoint("HES-MQ", "mqtt", vendor=vendor))
    profile = load_profile(vendor)
    sim = MqttHes(MQTT_URL, profile, prefix).start()
    try:
        post(base, group_control("R-5", MD_RESET, [], group=["M-5", "M-6"]))
        post(base, control("T-5", TIME_SYNC, "M-5"))
        post(base, control("P-5", POSTPAID, "M-6"))
        post(base, control("Q-5", PREPAID, "M-5"))
        approved = httpx.post(f"{base}/api/v1/commands/Q-5/approve", headers=HEADERS)
        assert approved.status_code == 200, approved.text
        finished = [done(base, m) for m in ("R-5:M-5", "R-5:M-6", "T-5", "P-5", "Q-5")]
    finally:
        sim.stop()
    assert [b["kind"] for b in finished] == [
        "md_reset", "md_reset", "time_sync", "postpaid_mode", "prepaid_mode",
    ]  # fmt: skip
    spec, words = profile.commands, profile.command_words
    sent = {c[spec["id"]]: (c[spec["action"]], c[spec["meter"]]) for c in sim.received}
    assert sent == {
        "R-5:M-5": (words["md_reset"], "SN-M-5"),
        "R-5:M-6": (words["md_reset"], "SN-M-6"),
        "T-5": (words["time_sync"], "SN-M-5"),
        "P-5": (words["postpaid_mode"], "SN-M-6"),
        "Q-5": (words["prepaid_mode"], "SN-M-5"),
    }


EVENT = """<?xml version="1.0" encoding="UTF-8"?>
<CreatedEndDeviceEvents xmlns="http://iec.ch/TC57/2011/EndDeviceEventsMessage"
    xmlns:msg="http://iec.ch/TC57/2011/schema/message">
  <Header><msg:Verb>created</msg:Verb><msg:Noun>EndDeviceEvents</msg:Noun>
    <msg:Timestamp>2024-06-15T10:01:41+05:30</msg:Timestamp><msg:Source>HES-T</msg:Source>
    <msg:MessageID>{message_id}</msg:MessageID></Header>
  <Payload><EndDeviceEvents xmlns="http://iec.ch/TC57/2011/EndDeviceEvents#"><EndDeviceEvent>
    <createdDateTime>2030-01-01T00:0{n}:00+00:00</createdDateTime>
    <Assets><mRID>{meter}</mRID></Assets><EndDeviceEventType ref="{code}"/>
  </EndDeviceEvent></EndDeviceEvents></Payload>
</CreatedEndDeviceEvents>
"""


def test_time_sync_events_from_the_meter_close_its_time_sync(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, _base = serve()
    seed_meters(hub, tmp_path, {"M-7": "HES-T", "M-8": "HES-T"})

    def process(raw: bytes) -> str:
        return hub.pipeline.process(Inbound(raw, TENANT, "test")).result.value

    def event(meter: str, code: str, n: int) -> bytes:
        return EVENT.format(meter=meter, code=code, n=n, message_id=f"tsync-{n}").encode()

    def last(mrid: str) -> tuple[str, str]:
        with hub.database.unit_of_work(hub=True) as uow:
            repo = CommandRepository(uow)
            stored = repo.by_mrid(uow.tenants.ensure(TENANT), [mrid])[mrid]
        return stored.command.state.value, stored.command.history[-1].actor

    assert process(group_control("T-7", TIME_SYNC, ["M-7", "M-8"])) == "OK"
    assert process(control("R-7", MD_RESET, "M-7")) == "OK"
    assert process(event("M-7", "3.36.116.58", 1)) == "OK"  # time sync succeeded
    assert process(event("M-8", "3.36.116.85", 2)) == "OK"  # time sync failed
    assert last("T-7:M-7") == ("executed", "HES-T")
    assert last("T-7:M-8") == ("failed", "HES-T")
    assert last("R-7") == ("sent", "cimhub")  # another kind: the events leave it open
