"""Connect and disconnect through the HES simulator over real HTTP; a head-end that is down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.cim_head_end import HttpHes
from cimhub.simulator.cim_writer import BLOCK_TYPES
from cimhub.store.commands import CommandRepository, HesEndpoint
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.testing.commands import (
    CONNECT,
    DISCONNECT,
    HEADERS,
    READ,
    command,
    control,
    seed_meters,
    set_endpoint,
)
from cimhub.testing.receiver import Receiver
from cimhub.testing.replies import ParsedReply
from cimhub.testing.waiting import wait_until


def states(body: dict[str, Any]) -> list[str]:
    return [t["state"] for t in body["transitions"]]


def test_connect_and_approved_disconnect_round_trip(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    sim = HttpHes(base, name="HES-SIM", tenant="t1").up()
    try:
        seed_meters(hub, tmp_path, {"M-1": "HES-SIM"})
        set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.url))
        hub.start_commands()

        reply = httpx.post(f"{base}/cim", content=control("C-1", CONNECT, "M-1"), headers=HEADERS)
        parsed = ParsedReply.of(reply.content)
        assert parsed.result == "OK" and "C-1" in reply.text
        done = wait_until(lambda: (b := command(base, "C-1"))["state"] == "executed" and b)
        assert states(done) == ["requested", "approved", "sent", "acknowledged", "executed"]
        assert done["transitions"][-1]["actor"] == "HES-SIM"

        reply = httpx.post(
            f"{base}/cim", content=control("D-1", DISCONNECT, "M-1", user="asha"), headers=HEADERS
        )
        assert ">awaiting_approval<" in reply.text
        assert command(base, "D-1")["state"] == "awaiting_approval"
        assert [m for m, *_ in sim.received] == ["C-1"]  # nothing sent before approval

        approved = httpx.post(f"{base}/api/v1/commands/D-1/approve", headers=HEADERS)
        assert approved.status_code == 200, approved.text
        assert approved.json()["transitions"][2]["actor"] == "anonymous"
        done = wait_until(lambda: (b := command(base, "D-1"))["state"] == "executed" and b)
        assert states(done)[-3:] == ["sent", "acknowledged", "executed"]
        assert [(m, k) for m, k, _ in sim.received] == [("C-1", "connect"), ("D-1", "disconnect")]
    finally:
        sim.down()


def test_the_requester_may_not_approve_and_illegal_moves_are_409(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    seed_meters(hub, tmp_path, {"M-2": "HES-X"})
    reply = httpx.post(
        f"{base}/cim", content=control("D-2", DISCONNECT, "M-2", user="anonymous"), headers=HEADERS
    )
    assert ParsedReply.of(reply.content).result == "OK"

    refused = httpx.post(f"{base}/api/v1/commands/D-2/approve", headers=HEADERS)
    assert refused.status_code == 403 and refused.json()["code"] == "3.9"
    canceled = httpx.post(f"{base}/api/v1/commands/D-2/cancel", headers=HEADERS)
    assert canceled.status_code == 200 and canceled.json()["state"] == "canceled"
    again = httpx.post(f"{base}/api/v1/commands/D-2/approve", headers=HEADERS)
    assert again.status_code == 409 and again.json()["code"] == "3.4"
    listed = httpx.get(f"{base}/api/v1/commands", params={"state": "canceled"}, headers=HEADERS)
    assert [c["mrid"] for c in listed.json()["items"]] == ["D-2"]


def test_a_repeated_create_is_idempotent(serve: Callable[..., Any], tmp_path: Path) -> None:
    hub, base = serve()
    seed_meters(hub, tmp_path, {"M-3": "HES-X"})
    for _ in range(2):
        body = control("D-3", DISCONNECT, "M-3")
        reply = httpx.post(f"{base}/cim", content=body, headers=HEADERS)
        assert ">awaiting_approval<" in reply.text
    listed = httpx.get(f"{base}/api/v1/commands", headers=HEADERS).json()
    assert listed["total"] == 1
    assert len(command(base, "D-3")["transitions"]) == 2


def test_a_down_head_end_gets_the_command_when_it_is_back(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    sim = HttpHes(base, name="HES-SIM", tenant="t1")  # not listening yet: refused
    seed_meters(hub, tmp_path, {"M-4": "HES-SIM"})
    set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.url))
    hub.start_commands()
    httpx.post(f"{base}/cim", content=control("C-4", CONNECT, "M-4"), headers=HEADERS)

    def attempts() -> int:
        with hub.database.unit_of_work(hub=True) as uow:
            repo = CommandRepository(uow)
            stored = repo.by_mrid(uow.tenants.ensure("t1"), ["C-4"])["C-4"]
            return sum(a for a, _ in repo.dispatch_errors(stored.id))

    wait_until(lambda: attempts() >= 2)
    assert command(base, "C-4")["state"] == "sent"
    sim.up()
    try:
        wait_until(lambda: command(base, "C-4")["state"] == "executed")
    finally:
        sim.down()


def test_the_outcome_is_published_to_subscribers(serve: Callable[..., Any], tmp_path: Path) -> None:
    hub, base = serve()
    sim = HttpHes(base, name="HES-SIM", tenant="t1", behaviour=Behaviour(fail_rate=1.0)).up()
    with Receiver() as cis:
        try:
            with hub.database.unit_of_work(hub=True) as uow:
                SubscriptionRepository(uow).put(
                    Subscription("cis", "EndDeviceControls", ("changed",), cis.url, tenant="t1")
                )
            seed_meters(hub, tmp_path, {"M-5": "HES-SIM"})
            set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.url))
            hub.start_commands()
            httpx.post(f"{base}/cim", content=control("C-5", CONNECT, "M-5"), headers=HEADERS)
            wait_until(lambda: command(base, "C-5")["state"] == "failed")
            bodies = cis.wait_for(2)  # acknowledged, failed
        finally:
            sim.down()
    events = [ParsedReply.of(b) for b in bodies]
    assert all(b"ChangedEndDeviceControls" in body for body in bodies)
    values = [e.root.findtext(".//{*}status/{*}value") for e in events]
    assert values == ["acknowledged", "failed"]


def test_a_soap_head_end_acknowledges_and_a_head_end_gone_for_good_fails_the_command(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve(hes_max_attempts=2)
    sim = HttpHes(base, name="HES-SOAP", tenant="t1").up()
    gone = HttpHes(base, name="HES-GONE", tenant="t1")  # never listens
    try:
        seed_meters(hub, tmp_path, {"M-6": "HES-SOAP", "M-7": "HES-GONE"})
        set_endpoint(hub, HesEndpoint("HES-SOAP", "soap", sim.url))
        set_endpoint(hub, HesEndpoint("HES-GONE", "http", gone.url))
        hub.start_commands()
        httpx.post(f"{base}/cim", content=control("C-6", CONNECT, "M-6"), headers=HEADERS)
        httpx.post(f"{base}/cim", content=control("C-7", CONNECT, "M-7"), headers=HEADERS)
        done = wait_until(lambda: (b := command(base, "C-6"))["state"] == "executed" and b)
        failed = wait_until(lambda: (b := command(base, "C-7"))["state"] == "failed" and b)
    finally:
        sim.down()
    assert "acknowledged" in states(done)
    reason = failed["transitions"][-1]["reason"]
    assert reason.startswith("head-end 'HES-GONE' unreachable after 2 attempts")


def test_an_on_demand_read_brings_the_meter_s_reading(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    from sqlalchemy import func, select

    from cimhub.store.models import IntervalReading

    hub, base = serve()
    sim = HttpHes(base, name="HES-SIM", tenant="t1").up()
    try:
        seed_meters(hub, tmp_path, {"M-8": "HES-SIM"})
        set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.url))
        hub.start_commands()
        reply = httpx.post(f"{base}/cim", content=control("R-8", READ, "M-8"), headers=HEADERS)
        assert ParsedReply.of(reply.content).result == "OK"
        done = wait_until(lambda: (b := command(base, "R-8"))["state"] == "executed" and b)
    finally:
        sim.down()
    executed = done["transitions"][-1]  # by the reading itself, before the head-end says so
    assert done["kind"] == "read" and executed["actor"] == "cimhub"
    assert executed["reason"].startswith("readings for the period received")
    with hub.database.unit_of_work(hub=True) as uow:
        count, stamps = uow.session.execute(
            select(func.count(), func.count(IntervalReading.ts.distinct()))
        ).one()
    assert (count, stamps) == (len(BLOCK_TYPES), 1)  # the meter's last block, every column


def test_a_command_the_head_end_refuses_fails_with_its_reason(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    behaviour = Behaviour(refused_meters=frozenset({"M-9"}))
    sim = HttpHes(base, name="HES-SIM", tenant="t1", behaviour=behaviour).up()
    try:
        seed_meters(hub, tmp_path, {"M-9": "HES-SIM"})
        set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.url))
        hub.start_commands()
        httpx.post(f"{base}/cim", content=control("C-9", CONNECT, "M-9"), headers=HEADERS)
        failed = wait_until(lambda: (b := command(base, "C-9"))["state"] == "failed" and b)
    finally:
        sim.down()
    last = failed["transitions"][-1]
    assert (last["actor"], last["reason"]) == ("HES-SIM", "unknown meter M-9 at HES-SIM")


def test_a_head_end_url_that_answers_404_fails_the_command(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    seed_meters(hub, tmp_path, {"M-10": "HES-404"})
    set_endpoint(hub, HesEndpoint("HES-404", "http", f"{base}/no-such-head-end"))
    hub.start_commands()
    httpx.post(f"{base}/cim", content=control("C-10", CONNECT, "M-10"), headers=HEADERS)
    failed = wait_until(lambda: (b := command(base, "C-10"))["state"] == "failed" and b)
    assert failed["transitions"][-1]["reason"].startswith(f"HTTP 404 from {base}/no-such")
