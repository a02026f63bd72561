"""Re-reads of missed intervals: the sweep asks for exactly a gap's period, once; the
readings close it (quality valid, finding cleared); retries are bounded; VEE estimates
what does not come. A meter whose newest reading is older than the wait is silent and
read too (test_silent_meter_rereads has the details). Here the test plays the head-end's
data; the simulators answer in test_reread_head_ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cimhub.app import Hub, sweep_rereads
from cimhub.domain.meter_read import Period
from cimhub.store.commands import HesEndpoint
from cimhub.testing.commands import (
    TENANT,
    open_gaps,
    push_intervals,
    qualities,
    read_commands,
    seed_meters,
    set_endpoint,
)
from cimhub.testing.messages import KWH_15MIN
from cimhub.testing.waiting import wait_until

HOUR = 3600
STEP = 900


def day_with_a_gap(base: str, meter: str, start: int, missing: range) -> list[int]:
    """24 quarter hours from ``start`` pushed without the ``missing`` ones; their stamps."""
    stamps = [start + STEP * (i + 1) for i in range(24)]
    push_intervals(base, meter, [ts for i, ts in enumerate(stamps) if i not in missing])
    return [stamps[i] for i in missing]


def sweep(hub: Hub, at: int | None = None) -> dict[str, int]:
    return sweep_rereads(hub.database, hub.settings, at)[TENANT]


def test_a_gap_older_than_the_wait_is_re_read_once_and_closed_by_its_readings(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve()
    seed_meters(hub, tmp_path, {"M-1": "HES-SIM"})  # no endpoint: the read stays sent
    start = int(time.time()) // STEP * STEP - 8 * HOUR  # the last reading 2 h ago: not silent
    gap = day_with_a_gap(base, "M-1", start, range(4, 8))
    assert [g[1:] for g in open_gaps(hub)] == [(gap[0], gap[-1])]
    assert all("3.8.0" in q for q in qualities(base, "M-1", gap, KWH_15MIN))  # estimated on arrival

    assert sweep(hub) == {
        "gaps": 1, "silent": 0, "asked": 1, "closed": 0, "given_up": 0, "estimated": 0
    }  # fmt: skip
    (read,) = read_commands(hub)
    assert read.command.period == Period(gap[0] - STEP, gap[-1])
    assert read.command.state.value == "sent" and read.hes == "HES-SIM"
    assert sweep(hub)["asked"] == 0  # the read is not over: nothing asked again

    push_intervals(base, "M-1", gap)  # the head-end re-acquired the period
    assert read_commands(hub)[0].command.state.value == "executed"  # closed by its readings
    assert qualities(base, "M-1", gap, KWH_15MIN) == ["3.0.1"] * 4
    assert open_gaps(hub) == []
    assert sweep(hub) == {
        "gaps": 0, "silent": 0, "asked": 0, "closed": 1, "given_up": 0, "estimated": 0
    }  # fmt: skip
    assert sweep(hub)["closed"] == 0 and len(read_commands(hub)) == 1


def test_a_gap_within_the_wait_is_only_noted_then_asked_then_estimated_then_replaced(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve(reread_estimate_minutes=60)
    seed_meters(hub, tmp_path, {"M-1": "HES-SIM"})
    now = int(time.time())
    gap = day_with_a_gap(base, "M-1", now // STEP * STEP - 7 * HOUR, range(20, 22))
    assert qualities(base, "M-1", gap, KWH_15MIN) == ["absent", "absent"]  # noted, not estimated
    assert sweep(hub)["gaps"] == 0  # younger than the re-acquisition wait (4 h)

    later = now + 4 * HOUR  # by then the meter is silent too (its newest reading 5 h old)
    assert sweep(hub, later)["asked"] == 2
    newest = now // STEP * STEP - HOUR
    assert [r.command.period for r in read_commands(hub)] == [
        Period(gap[0] - STEP, gap[-1]), Period(newest, later // STEP * STEP)
    ]  # fmt: skip
    assert sweep(hub, later + 59 * 60)["estimated"] == 0
    assert sweep(hub, later + 60 * 60)["estimated"] == 1
    assert all("3.8.0" in q for q in qualities(base, "M-1", gap, KWH_15MIN))
    assert sweep(hub, later + 2 * HOUR)["estimated"] == 0  # once

    push_intervals(base, "M-1", gap)  # the re-read arrives after all: it replaces the estimates
    assert qualities(base, "M-1", gap, KWH_15MIN) == ["3.0.1"] * 2 and open_gaps(hub) == []


def test_a_gap_is_asked_at_most_the_attempts_allowed_then_given_up_and_estimated(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve(reread_max_attempts=2, reread_retry_minutes=10, hes_max_attempts=1)
    seed_meters(hub, tmp_path, {"M-1": "HES-GONE", "M-2": ""})
    set_endpoint(hub, HesEndpoint("HES-GONE", "http", "http://127.0.0.1:9/cim"))  # refused
    hub.start_commands()
    start = int(time.time()) // STEP * STEP - 10 * HOUR
    gap = day_with_a_gap(base, "M-1", start, range(8, 10))
    day_with_a_gap(base, "M-2", start, range(8, 10))  # no head-end: estimated, never asked

    def failed() -> bool:
        return all(r.command.state.value == "failed" for r in read_commands(hub))

    t = int(time.time())  # M-1 is silent as well (its last reading 4 h ago): asked too
    assert sweep(hub, t) == {
        "gaps": 2, "silent": 1, "asked": 2, "closed": 0, "given_up": 1, "estimated": 1
    }  # fmt: skip
    wait_until(failed)
    assert sweep(hub, t + 9 * 60)["asked"] == 0  # before the retry wait
    assert sweep(hub, t + 10 * 60)["asked"] == 2
    wait_until(lambda: len(read_commands(hub)) == 4 and failed())
    report = sweep(hub, t + 11 * 60)  # every read failed: no attempt left
    assert (report["asked"], report["given_up"], report["estimated"]) == (0, 2, 1)
    assert sweep(hub, t + 10 * HOUR) == {
        "gaps": 2, "silent": 1, "asked": 0, "closed": 0, "given_up": 0, "estimated": 0
    }  # fmt: skip
    newest = start + 24 * STEP
    assert [r.command.period for r in read_commands(hub)] == [
        Period(gap[0] - STEP, gap[-1]), Period(newest, t // STEP * STEP),
        Period(gap[0] - STEP, gap[-1]), Period(newest, (t + 600) // STEP * STEP),
    ]  # fmt: skip
