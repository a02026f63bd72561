"""RCD-switch EndDeviceEvents from a head-end close the meter's open command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cimhub.bus.pipeline import Inbound
from cimhub.store.commands import CommandRepository
from cimhub.testing.commands import CONNECT, DISCONNECT, TENANT, control, seed_meters

EVENT = """<?xml version="1.0" encoding="UTF-8"?>
<CreatedEndDeviceEvents xmlns="http://iec.ch/TC57/2011/EndDeviceEventsMessage"
    xmlns:msg="http://iec.ch/TC57/2011/schema/message">
  <Header><msg:Verb>created</msg:Verb><msg:Noun>EndDeviceEvents</msg:Noun>
    <msg:Timestamp>2024-06-15T10:01:41+05:30</msg:Timestamp><msg:Source>HES-R</msg:Source>
    <msg:MessageID>{message_id}</msg:MessageID></Header>
  <Payload><EndDeviceEvents xmlns="http://iec.ch/TC57/2011/EndDeviceEvents#"><EndDeviceEvent>
    <createdDateTime>{at}</createdDateTime><Assets><mRID>{meter}</mRID></Assets>
    <EndDeviceEventType ref="{code}"/>
  </EndDeviceEvent></EndDeviceEvents></Payload>
</CreatedEndDeviceEvents>
"""


def event(meter: str, code: str, n: int) -> bytes:
    stamp = f"2030-01-01T00:0{n}:00+00:00"
    return EVENT.format(meter=meter, code=code, at=stamp, message_id=f"rcd-{n}").encode()


def test_connect_done_and_disconnect_failed_events_close_commands(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, _base = serve()
    seed_meters(hub, tmp_path, {"M-R": "HES-R"})

    def process(raw: bytes) -> str:
        return hub.pipeline.process(Inbound(raw, TENANT, "test")).result.value

    def state(mrid: str) -> tuple[str, str]:
        with hub.database.unit_of_work(hub=True) as uow:
            stored = CommandRepository(uow).by_mrid(uow.tenants.ensure(TENANT), [mrid])[mrid]
        last = stored.command.history[-1]
        return last.state.value, last.actor

    assert process(control("C-R", CONNECT, "M-R")) == "OK"
    assert process(control("D-R", DISCONNECT, "M-R")) == "OK"  # awaits approval: not open
    assert process(event("M-R", "3.31.0.42", 1)) == "OK"  # remote connect done
    assert state("C-R") == ("executed", "HES-R")
    assert process(event("M-R", "3.31.0.84", 2)) == "OK"  # remote disconnect failed
    assert state("D-R") == ("awaiting_approval", "cimhub")  # never sent: nothing to close
