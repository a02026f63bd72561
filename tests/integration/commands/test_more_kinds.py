"""Time sync, MD reset and prepaid/postpaid switches, for one meter or a group, through a
CIM head-end (the simulator over HTTP), both MQTT vendors, and the meter's own events."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cimhub.adapters.profile import load_profile
from cimhub.bus.pipeline import Inbound
from cimhub.simulator import vendor_writer
from cimhub.simulator.behaviour import Behaviour
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


EVENTS = """<?xml version="1.0" encoding="UTF-8"?>
<CreatedEndDeviceEvents xmlns="http://iec.ch/TC57/2011/EndDeviceEventsMessage"
    xmlns:msg="http://iec.ch/TC57/2011/schema/message">
  <Header><msg:Verb>created</msg:Verb><msg:Noun>EndDeviceEvents</msg:Noun>
    <msg:Timestamp>2024-06-15T10:01:41+05:30</msg:Timestamp><msg:Source>HES-E</msg:Source>
    <msg:MessageID>{message_id}</msg:MessageID></Header>
  <Payload><EndDeviceEvents xmlns="http://iec.ch/TC57/2011/EndDeviceEvents#">{events}
  </EndDeviceEvents></Payload>
</CreatedEndDeviceEvents>
"""
ONE = """<EndDeviceEvent><createdDateTime>2030-01-01T00:0{n}:00+00:00</createdDateTime>
    <reason>{reason}</reason><Assets><mRID>{meter}</mRID></Assets>
    <EndDeviceEventType ref="{code}"/></EndDeviceEvent>"""


def test_md_reset_and_mode_switch_events_close_the_meter_s_command(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    """IS 15959 166 / 211 / 212 as the vendor profiles map them close the open MD reset,
    switch to postpaid and (approved) switch to prepaid: executed, by the head-end, with
    the event's reason; events out of order in a message are taken oldest first, and a
    repeated event closes no later command."""
    hub, base = serve()
    seed_meters(hub, tmp_path, {"M-9": "HES-E", "M-10": "HES-E"})

    def process(*events: tuple[str, str, int]) -> str:
        body = "".join(ONE.format(meter=m, code=c, n=n, reason=f"meter {c}") for m, c, n in events)
        raw = EVENTS.format(events=body, message_id=str(uuid.uuid4())).encode()
        return ask(raw)

    def ask(raw: bytes) -> str:
        return hub.pipeline.process(Inbound(raw, TENANT, "test")).result.value

    def history(mrid: str) -> list[tuple[str, str, str]]:
        with hub.database.unit_of_work(hub=True) as uow:
            repo = CommandRepository(uow)
            stored = repo.by_mrid(uow.tenants.ensure(TENANT), [mrid])[mrid]
        return [(t.state.value, t.actor, t.reason) for t in stored.command.history]

    assert ask(control("R-9", MD_RESET, "M-9")) == "OK"
    assert ask(control("P-9", POSTPAID, "M-9")) == "OK"
    assert ask(control("Q-10", PREPAID, "M-10")) == "OK"
    approved = httpx.post(f"{base}/api/v1/commands/Q-10/approve", headers=HEADERS)
    assert approved.status_code == 200, approved.text
    assert process(("M-10", MD_RESET, 1)) == "OK"  # another meter's MD reset
    assert history("R-9")[-1][0] == "sent"
    # out of order in one message; M-10 switched to prepaid
    assert process(("M-9", POSTPAID, 3), ("M-9", MD_RESET, 2), ("M-10", PREPAID, 4)) == "OK"
    assert history("R-9")[-1] == ("executed", "HES-E", f"meter {MD_RESET}")
    assert history("P-9")[-1] == ("executed", "HES-E", f"meter {POSTPAID}")
    assert [s for s, _, _ in history("Q-10")] == [
        "requested", "awaiting_approval", "approved", "sent", "executed",
    ]  # fmt: skip
    assert history("Q-10")[-1][1:] == ("HES-E", f"meter {PREPAID}")
    assert ask(control("R-11", MD_RESET, "M-9")) == "OK"
    assert process(("M-9", MD_RESET, 2)) == "OK"  # the first reset's event again
    assert history("R-11")[-1][0] == "sent"
    assert process(("M-9", MD_RESET, 5)) == "OK"  # the new reset's own event
    assert history("R-11")[-1] == ("executed", "HES-E", f"meter {MD_RESET}")
    assert len(history("R-9")) == 4  # requested, approved, sent, executed: never moved again


@pytest.mark.parametrize("vendor", ["vendor-a", "vendor-b"])
def test_the_meter_s_md_reset_event_over_mqtt_closes_the_command(
    serve: Callable[..., Any], tmp_path: Path, vendor: str
) -> None:
    """A head-end that acknowledges and reports no outcome; the meter's own IS 15959 event
    166 (MD reset) on the vendor's events topic executes the command."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    hub, base = serve(mqtt_url=MQTT_URL, mqtt_vendors="vendor-a,vendor-b",
                      mqtt_topic_prefix=prefix, default_tenant=TENANT)  # fmt: skip
    hub.start_commands()
    wait_until(lambda: hub.commands.mqtt.connected)
    seed_meters(hub, tmp_path, {"M-12": "HES-MQ"})
    set_endpoint(hub, HesEndpoint("HES-MQ", "mqtt", vendor=vendor))
    profile = load_profile(vendor)
    sim = MqttHes(MQTT_URL, profile, prefix, behaviour=Behaviour(silent_rate=1.0)).start()
    try:
        post(base, control("R-12", MD_RESET, "M-12"))
        wait_until(lambda: command(base, "R-12")["state"] == "acknowledged")
        sim.publish_event("SN-M-12", "166", vendor_writer.stamp(profile.events, int(time.time())))
        finished = done(base, "R-12")
    finally:
        sim.stop()
    assert states(finished) == ["requested", "approved", "sent", "acknowledged", "executed"]
    assert finished["transitions"][-1]["reason"] == f"{vendor} event 166"  # the event's own
    acked, executed = finished["transitions"][-2:]
    assert executed["actor"] == acked["actor"]  # whoever speaks for the head-end here
