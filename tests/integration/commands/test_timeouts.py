"""Commands sent but not acknowledged in time become timed_out; a late outcome still counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cimhub.bus.pipeline import Inbound
from cimhub.handlers.commands import time_out
from cimhub.store.commands import CommandRepository, HesEndpoint
from cimhub.testing.commands import CONNECT, TENANT, control, seed_meters, set_endpoint

EXECUTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<ExecutedEndDeviceControls xmlns="http://iec.ch/TC57/2011/EndDeviceControlsMessage"
    xmlns:msg="http://iec.ch/TC57/2011/schema/message"
    xmlns:c="http://iec.ch/TC57/2011/EndDeviceControls#">
  <Header><msg:Verb>executed</msg:Verb><msg:Noun>EndDeviceControls</msg:Noun>
    <msg:Timestamp>2024-06-15T10:01:41+05:30</msg:Timestamp><msg:Source>HES-Z</msg:Source>
    <msg:MessageID>late-outcome-1</msg:MessageID></Header>
  <Payload><c:EndDeviceControls><c:EndDeviceControl><c:mRID>C-T</c:mRID>
    <c:EndDeviceControlType ref="3.31.0.18"/><c:EndDevices><c:mRID>M-T</c:mRID></c:EndDevices>
    <c:status><c:value>executed</c:value></c:status>
  </c:EndDeviceControl></c:EndDeviceControls></Payload>
</ExecutedEndDeviceControls>
"""


def test_an_unacknowledged_command_times_out_and_stops_being_retried(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, _base = serve(command_timeout_seconds=60)
    seed_meters(hub, tmp_path, {"M-T": "HES-Z"})
    set_endpoint(hub, HesEndpoint("HES-Z", "http", "http://127.0.0.1:9/cim"))  # nobody there
    answer = hub.pipeline.process(Inbound(control("C-T", CONNECT, "M-T"), TENANT, "test"))
    assert answer.result.value == "OK"

    with hub.database.unit_of_work(hub=True) as uow:
        assert time_out(uow, 60, at=int(time.time()) + 30) == []  # not yet
    with hub.database.unit_of_work(hub=True) as uow:
        assert time_out(uow, 60, at=int(time.time()) + 61) == ["C-T"]
    with hub.database.unit_of_work(hub=True) as uow:
        repo = CommandRepository(uow)
        stored = repo.by_mrid(uow.tenants.ensure(TENANT), ["C-T"])["C-T"]
        assert stored.command.state.value == "timed_out"
        assert stored.command.history[-1].actor == "cimhub"
        assert repo.due() == []  # the head-end will not get it hours later

    late = hub.pipeline.process(Inbound(EXECUTED, TENANT, "test"))
    assert late.result.value == "OK"
    with hub.database.unit_of_work(hub=True) as uow:
        stored = CommandRepository(uow).by_mrid(uow.tenants.ensure(TENANT), ["C-T"])["C-T"]
        assert [t.state.value for t in stored.command.history][-2:] == ["timed_out", "executed"]


def test_a_claimed_dispatch_is_not_claimed_again_until_its_lease_ends(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, _base = serve()
    seed_meters(hub, tmp_path, {"M-L": "HES-L"})
    hub.pipeline.process(Inbound(control("C-L", CONNECT, "M-L"), TENANT, "test"))
    with hub.database.unit_of_work(hub=True) as uow:
        (first,) = CommandRepository(uow).claim(lease_seconds=3600)
    with hub.database.unit_of_work(hub=True) as uow:
        assert CommandRepository(uow).claim(lease_seconds=3600) == []  # another dispatcher
        CommandRepository(uow).retry_later(first.id, 1, 0.0, "refused")
    with hub.database.unit_of_work(hub=True) as uow:
        assert [d.id for d in CommandRepository(uow).claim(lease_seconds=3600)] == [first.id]


def test_an_acknowledged_command_without_outcome_times_out_later(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, _base = serve()
    seed_meters(hub, tmp_path, {"M-T": "HES-Z"})
    hub.pipeline.process(Inbound(control("C-T", CONNECT, "M-T"), TENANT, "test"))
    queued = EXECUTED.replace(b"<c:value>executed<", b"<c:value>queued<")
    queued = queued.replace(b"late-outcome-1", b"ack-1")
    answer = hub.pipeline.process(Inbound(queued, TENANT, "test"))
    assert answer.result.value == "OK", answer.body
    assert hub.time_out_commands() == []  # the hub's own sweep, with its settings: nothing yet
    now = int(time.time())
    with hub.database.unit_of_work(hub=True) as uow:
        assert time_out(uow, 60, at=now + 120) == []  # acknowledged: the short limit is met
        assert time_out(uow, 60, at=now + 3601, outcome_timeout_seconds=3600) == ["C-T"]
    with hub.database.unit_of_work(hub=True) as uow:
        stored = CommandRepository(uow).by_mrid(uow.tenants.ensure(TENANT), ["C-T"])["C-T"]
    assert stored.command.history[-1].reason == "no outcome from head-end HES-Z in 3600 s"
