"""READ commands to CIM head-ends as GetMeterReadings, through a real hub and the CIM
head-end simulator over HTTP and SOAP (by URL, and through its WSDLs): a synchronous
answer's readings are ingested as the head-end's (raw + VEE) and execute the read; an
asynchronous one acknowledges it and the later CreatedMeterReadings execute it; a FAILED
reply, a SOAP Fault, an answer short of the period and a head-end that stays down fail
it with the reason; ``read_as=control`` keeps the EndDeviceControl 3.21.0.8."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cimhub.app import Hub
from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.cim_head_end import HttpHes
from cimhub.simulator.cim_writer import BLOCK_TYPES
from cimhub.store.commands import HesEndpoint
from cimhub.store.models import IntervalReading, MessageLog
from cimhub.testing.commands import HEADERS, READ, command, control, seed_meters, set_endpoint
from cimhub.testing.replies import ParsedReply
from cimhub.testing.waiting import wait_until

STEP = 900


def ask_read(base: str, start: int, end: int) -> None:
    """A READ control (R-1, meter M-1) naming the period (start, end]."""
    from cimhub.mappings.timestamp import to_text

    interval = f"<c:scheduledInterval><c:end>{to_text(end)}</c:end><c:start>{to_text(start)}"
    body = control("R-1", READ, "M-1").replace(
        b"</c:EndDevices>", f"</c:EndDevices>{interval}</c:start></c:scheduledInterval>".encode()
    )
    reply = httpx.post(f"{base}/cim", content=body, headers=HEADERS, timeout=30)
    assert ParsedReply.of(reply.content).result == "OK", reply.text


def wire(hub: Hub, tmp_path: Path, sim: HttpHes, url: str = "", kind: str = "http") -> HttpHes:
    """Meter M-1 belongs to ``sim``, reached at ``url`` (default: its own) over ``kind``."""
    seed_meters(hub, tmp_path, {"M-1": sim.name})
    set_endpoint(hub, HesEndpoint(sim.name, kind, url or sim.url))
    hub.start_commands()
    return sim.up()


def states(mrid: str, base: str) -> list[tuple[str, str]]:
    return [(t["state"], t["actor"]) for t in command(base, mrid)["transitions"]]


@pytest.mark.parametrize("kind", ["http", "soap", "wsdl"])
def test_a_synchronous_answer_is_ingested_as_the_head_end_s_and_executes_the_read(
    serve: Callable[..., Any], tmp_path: Path, kind: str
) -> None:
    hub, base = serve()
    sim = HttpHes(base, name="HES-SIM", tenant="t1")
    try:
        url = sim.wsdl_urls if kind == "wsdl" else sim.url
        wire(hub, tmp_path, sim, url, "http" if kind == "http" else "soap")
        end = int(time.time()) // STEP * STEP
        ask_read(base, end - 4 * STEP, end)
        wait_until(lambda: command(base, "R-1")["state"] == "executed")
    finally:
        sim.down()
    assert states("R-1", base)[-3:] == [("sent", "cimhub"), ("acknowledged", "HES-SIM"),
                                        ("executed", "cimhub")]  # fmt: skip
    assert sim.received == [("R-1", "read", "M-1")] and sim.reported == []  # no control
    with hub.database.unit_of_work(hub=True) as uow:
        stored = uow.session.execute(
            select(func.count(), func.min(IntervalReading.ts), func.max(IntervalReading.ts))
        ).one()
        sources = set(uow.session.scalars(select(MessageLog.source).where(
            MessageLog.noun == "MeterReadings", MessageLog.verb == "created")))  # fmt: skip
    assert stored == (4 * len(BLOCK_TYPES), end - 3 * STEP, end)  # every column, the period
    assert sources == {"HES-SIM"}  # attributed to the head-end, through the pipeline


def test_an_asynchronous_answer_acknowledges_and_the_readings_sent_later_execute(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    later = HttpHes(base, name="HES-SIM", tenant="t1", read_reply="async",
                    behaviour=Behaviour(outcome_delay=(0.3, 0.6)))  # fmt: skip
    try:
        wire(hub, tmp_path, later)
        end = int(time.time()) // STEP * STEP
        ask_read(base, end - 2 * STEP, end)
        wait_until(lambda: command(base, "R-1")["state"] == "executed")
    finally:
        later.down()
    assert states("R-1", base)[-2:] == [("acknowledged", "HES-SIM"), ("executed", "cimhub")]
    assert [(m, s, h) for m, s, h in later.reported] == [("R-1", "executed", 200)]


def test_a_failed_answer_and_a_soap_fault_fail_the_read_with_the_reason(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    sim = HttpHes(base, name="HES-SIM", tenant="t1", behaviour=Behaviour(fail_rate=1.0))
    try:
        wire(hub, tmp_path, sim)
        end = int(time.time()) // STEP * STEP
        ask_read(base, end - STEP, end)
        wait_until(lambda: command(base, "R-1")["state"] == "failed")
    finally:
        sim.down()
    last = command(base, "R-1")["transitions"][-1]
    assert (last["actor"], last["reason"]) == ("HES-SIM", "meter did not respond")

    seed_meters(hub, tmp_path, {"M-2": "HES-FAULT"})  # a SOAP service that takes no query
    set_endpoint(hub, HesEndpoint("HES-FAULT", "soap", f"{base}/soap/ReceiveMeterReadings"))
    httpx.post(f"{base}/cim", content=control("R-2", READ, "M-2"), headers=HEADERS, timeout=30)
    wait_until(lambda: command(base, "R-2")["state"] == "failed")
    reason = command(base, "R-2")["transitions"][-1]["reason"]
    assert reason.startswith("SOAP Fault: soapenv:Client 1.8 ReceiveMeterReadings has no")


def test_an_answer_short_of_the_period_fails_and_a_head_end_down_fails_after_retries(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve(hes_max_attempts=2)
    sim = HttpHes(base, name="HES-SIM", tenant="t1")
    try:
        wire(hub, tmp_path, sim)
        end = int(time.time()) // STEP * STEP + 4 * STEP  # an hour ahead: the meter has less
        ask_read(base, end - 8 * STEP, end)
        wait_until(lambda: command(base, "R-1")["state"] == "failed")
    finally:
        sim.down()
    reason = command(base, "R-1")["transitions"][-1]["reason"]
    assert reason.startswith("the head-end's answer holds no readings reaching the period's end")

    seed_meters(hub, tmp_path, {"M-3": "HES-GONE"})
    set_endpoint(hub, HesEndpoint("HES-GONE", "soap", "http://127.0.0.1:9/cim"))  # refused
    httpx.post(f"{base}/cim", content=control("R-3", READ, "M-3"), headers=HEADERS, timeout=30)
    wait_until(lambda: command(base, "R-3")["state"] == "failed")
    reason = command(base, "R-3")["transitions"][-1]["reason"]
    assert reason.startswith("head-end 'HES-GONE' unreachable after 2 attempts")


def test_a_head_end_that_wants_controls_gets_the_end_device_control(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    sim = HttpHes(base, name="HES-SIM", tenant="t1")
    try:
        wire(hub, tmp_path, sim)
        set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.url, read_as="control"))
        end = int(time.time()) // STEP * STEP
        ask_read(base, end - STEP, end)
        wait_until(lambda: sim.reported != [])  # the outcome, as ExecutedEndDeviceControls
    finally:
        sim.down()
    assert sim.received == [("R-1", "read", "M-1")]
    assert sim.reported[0][:2] == ("R-1", "executed")
    assert command(base, "R-1")["state"] == "executed"
