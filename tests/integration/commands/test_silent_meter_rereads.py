"""Silent meters are re-read: a meter in service with a head-end whose newest interval
reading is older than the re-acquisition wait (and younger than its memory) gets one read
of (newest reading, now rounded down to the interval], with the gap re-reads' bounded
retries; none at all without readings, without a head-end, out of service, past the
memory or fresh. The test plays the head-end's data (test_reread_head_ends has the
simulators answer)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cimhub.app import Hub, sweep_rereads
from cimhub.cli import main
from cimhub.domain.meter_read import DAY, Period, RereadKind
from cimhub.store.rereads import RereadRepository
from cimhub.testing.commands import TENANT, push_intervals, read_commands, seed_meters
from cimhub.testing.waiting import wait_until

HOUR, STEP = 3600, 900


def sweep(hub: Hub, at: int) -> dict[str, int]:
    return sweep_rereads(hub.database, hub.settings, at)[TENANT]


def silent_rows(hub: Hub) -> list[tuple[str, int, int, int]]:
    """(state, start, end, attempts) of the tenant's silent-meter re-reads."""
    with hub.database.unit_of_work(hub=True) as uow:
        rows = RereadRepository(uow).rows(uow.tenants.ensure(TENANT), kind=RereadKind.SILENT)
        return [(r.state, r.period_start, r.period_end, r.attempts) for r in rows]


def hours_of(base: str, meter: str, last: int, hours: int = 2) -> int:
    """``hours`` of a meter's 15-minute readings ending at ``last``; ``last``."""
    push_intervals(base, meter, [last - STEP * i for i in reversed(range(hours * 4))])
    return last


def test_only_a_silent_meter_in_service_with_a_head_end_is_asked_for_what_it_missed(
    serve: Callable[..., Any],
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub, base = serve()
    meters = {"S-1": "HES-SIM", "S-2": "HES-SIM", "S-3": "", "S-4": "HES-SIM",
              "S-5": "HES-SIM", "S-6": "HES-SIM"}  # fmt: skip
    seed_meters(hub, tmp_path, meters, stages={"S-4": "installed"})
    now = int(time.time()) // STEP * STEP
    newest = hours_of(base, "S-1", now - 5 * HOUR)  # silent for five hours
    for meter in ("S-3", "S-4"):  # no head-end; installed, not in service
        hours_of(base, meter, now - 5 * HOUR)
    hours_of(base, "S-5", now - 46 * DAY)  # older than the meter's memory (45 days)
    hours_of(base, "S-6", now - HOUR)  # fresh; S-2 never sent anything
    at = now + 60

    report = sweep(hub, at)
    assert (report["silent"], report["asked"], report["gaps"]) == (1, 1, 0)
    (read,) = read_commands(hub)
    assert read.command.period == Period(newest, now) and read.command.reading_types == ()
    assert (read.command.meter.mrid, read.command.state.value, read.hes) == (
        "S-1",
        "sent",
        "HES-SIM",
    )
    assert silent_rows(hub) == [("open", newest, now, 1)]
    assert sweep(hub, at)["asked"] == 0  # its read is not over

    push_intervals(base, "S-1", [newest + STEP * i for i in range(1, 21)])  # the answer
    assert read_commands(hub)[0].command.state.value == "executed"  # its period is reached
    report = sweep(hub, at)
    assert (report["silent"], report["asked"], report["closed"]) == (0, 0, 1)
    assert silent_rows(hub) == [("closed", newest, now, 1)]
    monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
    capsys.readouterr()
    assert main(["reread", "list", "--tenant", TENANT]) == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["meter"], listed["kind"], listed["state"]) == ("S-1", "silent", "closed")


def test_a_silent_meter_is_asked_a_bounded_number_of_times_then_again_once_it_moved_on(
    serve: Callable[..., Any], tmp_path: Path
) -> None:
    hub, base = serve(reread_max_attempts=2, reread_retry_minutes=10)
    seed_meters(hub, tmp_path, {"S-1": "HES-SIM"})
    hub.start_commands()  # HES-SIM has no endpoint: every read fails at once
    now = int(time.time()) // STEP * STEP
    newest = hours_of(base, "S-1", now - 6 * HOUR)

    def failed(count: int) -> bool:
        reads = read_commands(hub)
        return len(reads) == count and all(r.command.state.value == "failed" for r in reads)

    assert sweep(hub, now)["asked"] == 1
    wait_until(lambda: failed(1))
    assert sweep(hub, now + 9 * 60)["asked"] == 0  # before the retry wait
    assert sweep(hub, now + 20 * 60)["asked"] == 1  # again, up to the time it is asked
    wait_until(lambda: failed(2))
    report = sweep(hub, now + 2 * HOUR)
    assert (report["asked"], report["given_up"], report["silent"]) == (0, 1, 1)
    assert sweep(hub, now + 3 * HOUR)["asked"] == 0  # given up: never asked endlessly
    assert [r.command.period for r in read_commands(hub)] == [
        Period(newest, now), Period(newest, now + STEP)
    ]  # fmt: skip
    assert silent_rows(hub) == [("given_up", newest, now + STEP, 2)]

    moved = hours_of(base, "S-1", now - 5 * HOUR, hours=1)  # it spoke, then fell silent again
    assert sweep(hub, now + 3 * HOUR)["asked"] == 1
    assert read_commands(hub)[-1].command.period == Period(moved, now + 3 * HOUR)
    assert [r[0] for r in silent_rows(hub)] == ["given_up", "open"]
