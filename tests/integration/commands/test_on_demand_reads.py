"""On-demand reads from a GetMeterReadings on stale data, through a real hub over HTTP and
the CIM head-end simulator: the warning answer, the asynchronous answer, shared reads."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from cimhub.app import Hub
from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.cim_head_end import HttpHes
from cimhub.store.commands import HesEndpoint
from cimhub.testing.bus import with_async_reply
from cimhub.testing.commands import (
    HEADERS,
    TENANT,
    push_intervals,
    read_commands,
    seed_meters,
    set_endpoint,
)
from cimhub.testing.messages import get_meter_readings
from cimhub.testing.receiver import Receiver
from cimhub.testing.replies import ParsedReply
from cimhub.testing.waiting import wait_until

STEP = 900


def ask(base: str, meter: str, status: int = 200, **options: str) -> ParsedReply:
    body = get_meter_readings([meter], options=options or None)
    reply = httpx.post(f"{base}/cim", content=body, headers=HEADERS, timeout=30)
    assert reply.status_code == status, reply.text
    return ParsedReply.of(reply.content)


def stale_meter(serve: Callable[..., Any], tmp_path: Path, **settings: Any) -> tuple[Hub, str, int]:
    """A hub reading meters on demand after 60 minutes; meter M-1 on HES-SIM, last read
    three hours ago. (hub, base URL, newest stored reading)."""
    hub, base = serve(on_demand_stale_minutes=60, **settings)
    seed_meters(hub, tmp_path, {"M-1": "HES-SIM"})
    latest = int(time.time()) // STEP * STEP - 3 * 3600
    push_intervals(base, "M-1", [latest - STEP, latest])
    return hub, base, latest


def test_a_stale_query_gets_the_stored_readings_and_a_read_warning_at_once(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base, latest = stale_meter(serve, tmp_path)
    sim = HttpHes(base, name="HES-SIM", tenant=TENANT).up()
    try:
        set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.url))
        hub.start_commands()
        asked_at = int(time.time())
        reply = ask(base, "M-1")

        assert reply.result == "OK" and reply.codes == ["0.0", "0.4"]
        assert sorted(ts for _m, _t, ts in reply.readings()) == [latest - STEP, latest]
        (read,) = read_commands(hub)
        assert read.command.period is not None and read.command.period.start == latest
        assert asked_at <= read.command.period.end <= int(time.time())
        assert read.command.mrid in reply.reasons[1]
        done = wait_until(
            lambda: (r := read_commands(hub)[0]).command.state.value == "executed" and r
        )
        assert [m for m, k, _ in sim.received if k == "read"] == [read.command.mrid]
        assert done.command.history[-1].actor in ("cimhub", "HES-SIM")
        fresh = ask(base, "M-1")  # the read's readings are in: nothing stale any more
        assert fresh.codes == ["0.0"] and max(ts for *_, ts in fresh.readings()) > latest
    finally:
        sim.down()


def test_stale_queries_of_one_meter_share_one_read(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base, _latest = stale_meter(serve, tmp_path)  # no endpoint: the read stays sent
    replies = [ask(base, "M-1") for _ in range(3)]

    (read,) = read_commands(hub)
    assert all(r.codes == ["0.0", "0.4"] and read.command.mrid in r.reasons[1] for r in replies)
    assert read.command.state.value == "sent"


def test_the_on_demand_option_reads_fresh_data_and_never_stale_data(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()  # no staleness setting: only the Option reads
    seed_meters(hub, tmp_path, {"M-1": "HES-SIM", "M-2": ""})
    now = int(time.time()) // STEP * STEP
    push_intervals(base, "M-1", [now - 2 * STEP, now - STEP])

    assert ask(base, "M-1").codes == ["0.0"] and not read_commands(hub)
    assert ask(base, "M-1", onDemand="false").codes == ["0.0"] and not read_commands(hub)
    assert ask(base, "M-1", onDemand="true").codes == ["0.0", "0.4"]
    assert len(read_commands(hub)) == 1
    no_head_end = ask(base, "M-2", onDemand="true")
    assert no_head_end.codes == ["0.0", "0.5"] and "no head-end" in no_head_end.reasons[1]
    assert ask(base, "M-1", status=400, onDemand="maybe").codes == ["2.4"]


def test_an_async_stale_query_gets_0_3_then_the_readings_the_read_brought(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base, latest = stale_meter(serve, tmp_path)
    sim = HttpHes(base, name="HES-SIM", tenant=TENANT).up()
    try:
        with Receiver() as billing:
            set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.url))
            hub.start_commands()
            body = with_async_reply(get_meter_readings(["M-1"]), billing.url)
            reply = httpx.post(f"{base}/cim", content=body, headers=HEADERS, timeout=30)
            first = ParsedReply.of(reply.content)
            assert (first.result, first.codes) == ("OK", ["0.3"])
            (full,) = [ParsedReply.of(b) for b in billing.wait_for(1)]
    finally:
        sim.down()
    (read,) = read_commands(hub)
    assert read.command.state.value == "executed"
    assert full.result == "OK" and full.codes == ["0.0"]
    assert full.correlation_id == first.correlation_id
    stamps = sorted(ts for *_, ts in full.readings())
    assert stamps[:2] == [latest - STEP, latest] and stamps[-1] > latest  # the fresh one too


def async_answer(hub: Hub, base: str, sim: HttpHes) -> ParsedReply:
    """The full reply to an asynchronous query of M-1 with ``sim`` as its head-end."""
    try:
        set_endpoint(hub, HesEndpoint("HES-SIM", "http", sim.up().url))
        hub.start_commands()
        with Receiver() as billing:
            body = with_async_reply(get_meter_readings(["M-1"]), billing.url)
            httpx.post(f"{base}/cim", content=body, headers=HEADERS, timeout=30)
            (answer,) = billing.wait_for(1)
    finally:
        sim.down()
    return ParsedReply.of(answer)


def test_an_async_reply_whose_read_failed_has_the_stored_readings_and_0_5(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base, latest = stale_meter(serve, tmp_path)
    failing = HttpHes(base, name="HES-SIM", tenant=TENANT, behaviour=Behaviour(fail_rate=1.0))

    answer = async_answer(hub, base, failing)

    assert answer.codes == ["0.0", "0.5"] and "failed (meter did not respond)" in answer.reasons[1]
    assert sorted(ts for *_, ts in answer.readings()) == [latest - STEP, latest]
    assert [r.command.state.value for r in read_commands(hub)] == ["failed"]


def test_an_async_reply_whose_read_never_ends_is_sent_at_its_deadline_with_0_5(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base, latest = stale_meter(serve, tmp_path, on_demand_reply_seconds=2)
    silent = HttpHes(base, name="HES-SIM", tenant=TENANT, behaviour=Behaviour(silent_rate=1.0))

    answer = async_answer(hub, base, silent)

    assert answer.codes == ["0.0", "0.5"] and "not over in time" in answer.reasons[1]
    assert sorted(ts for *_, ts in answer.readings()) == [latest - STEP, latest]
    assert [r.command.state.value for r in read_commands(hub)] == ["acknowledged"]


def test_a_tenant_s_own_staleness_threshold_decides_over_the_hub_s(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base, _latest = stale_meter(serve, tmp_path)  # hub-wide 60 min; data 3 h old

    def tenant_minutes(minutes: int | None) -> None:
        with hub.database.unit_of_work(hub=True) as uow:
            uow.tenants.configure(uow.tenants.ensure(TENANT), on_demand_stale_minutes=minutes)

    tenant_minutes(0)  # this tenant reads only when asked
    assert ask(base, "M-1").codes == ["0.0"] and not read_commands(hub)
    tenant_minutes(240)  # three hours old is fresh enough for it
    assert ask(base, "M-1").codes == ["0.0"] and not read_commands(hub)
    tenant_minutes(120)
    assert ask(base, "M-1").codes == ["0.0", "0.4"] and len(read_commands(hub)) == 1
    tenant_minutes(None)  # the hub's 60 minutes again: the open read is shared
    assert ask(base, "M-1").codes == ["0.0", "0.4"] and len(read_commands(hub)) == 1
