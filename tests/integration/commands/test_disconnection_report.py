"""The disconnection summary by circle/division (seed 004): counts of disconnect and
reconnect commands of a period by state and outcome per organisation unit, over REST (JSON,
CSV) and the CLI, against counts worked out by hand."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.cli import main
from cimhub.domain.command import State
from cimhub.handlers.commands import Commands
from cimhub.imports.csv_import import import_files
from cimhub.mappings.timestamp import to_text
from cimhub.store.command_models import CommandRow
from cimhub.testing.commands import CONNECT, DISCONNECT, TENANT, TIME_SYNC, control

ORGANISATION = """code,name,level,parent_code
R1,Region One,region,
C1,Circle One,circle,R1
C2,Circle Two,circle,R1
D11,Division 11,division,C1
D12,Division 12,division,C1
D21,Division 21,division,C2
SD111,Sub-division 111,subdivision,D11
SEC1,Section 1,section,SD111
"""
METERS = "serial_number,mrid,hes,stage\n" + "".join(
    f"SN-M{i},M{i},HES-X,in_service\n" for i in range(1, 7)
)
#: M1 at a section under D11, M2 at D11 itself, M3 at D12, M4 at D21, M5 at circle C2
#: (above any division), M6 at no usage point.
CONSUMERS = "consumer_number,org_code,meter_serial,installed_on\n" + "".join(
    f"N{i},{unit},SN-M{i},2024-01-15\n"
    for i, unit in enumerate(("SEC1", "D11", "D12", "D21", "C2"), 1)
)
#: command → (kind, meter, the state it is brought to)
COMMANDS = {
    "D-1": (DISCONNECT, "M1", "awaiting_approval"),
    "D-2": (DISCONNECT, "M2", "sent"),
    "D-3": (DISCONNECT, "M3", "executed"),
    "D-4": (DISCONNECT, "M4", "canceled"),
    "D-5": (DISCONNECT, "M5", "failed"),
    "D-6": (DISCONNECT, "M6", "timed_out"),
    "C-1": (CONNECT, "M1", "executed"),
    "C-2": (CONNECT, "M2", "sent"),
    "T-1": (TIME_SYNC, "M1", "sent"),  # not a disconnect nor a reconnect: left out
    "D-7": (DISCONNECT, "M3", "awaiting_approval"),  # 60 days ago: outside the period
}
DAY = 86_400
TEXT = ("level", "unit", "unit_name", "kind")


def seed(hub: Hub, tmp_path: Path) -> None:
    files = []
    for name, text in (("organisation.csv", ORGANISATION), ("meter.csv", METERS),
                       ("consumer.csv", CONSUMERS)):  # fmt: skip
        (tmp_path / name).write_text(text)
        files.append(tmp_path / name)
    reports = import_files(hub.database, TENANT, files)
    assert all(r.applied for r in reports), [str(e) for r in reports for e in r.errors]
    for mrid, (code, meter, _state) in COMMANDS.items():
        answer = hub.pipeline.process(Inbound(control(mrid, code, meter), TENANT, "test"))
        assert answer.result.value == "OK", answer.body
    with hub.database.unit_of_work(hub=True) as uow:
        commands = Commands(uow)
        tenant_id = uow.tenants.ensure(TENANT)
        for mrid, stored in commands.repo.by_mrid(tenant_id, list(COMMANDS), lock=True).items():
            _bring(commands, stored, COMMANDS[mrid][2])
        uow.session.execute(
            update(CommandRow)
            .where(CommandRow.mrid == "D-7")
            .values(created_at=int(time.time()) - 60 * DAY)
        )


def _bring(commands: Commands, stored: Any, target: str) -> None:
    if target == "awaiting_approval":
        return
    if stored.command.state is State.AWAITING_APPROVAL and target != "canceled":
        commands.approve(stored, "ravi")  # → sent to its head-end
    if target not in ("sent", "awaiting_approval"):
        commands.move(stored, State(target), "HES-X", "test")


def row(unit: str, kind: str, total: int, **states: int) -> dict[str, Any]:
    """A report row; the states not named are 0, the outcome columns derived by hand."""
    all_states = dict.fromkeys(
        ("requested", "awaiting_approval", "approved", "sent", "acknowledged", "executed",
         "failed", "timed_out", "canceled"), 0)  # fmt: skip
    all_states |= states
    pending = sum(all_states[s] for s in ("requested", "awaiting_approval", "approved", "sent",
                                          "acknowledged"))  # fmt: skip
    return {"unit": unit, "kind": kind, "total": total, **all_states, "pending": pending,
            "unsuccessful": all_states["failed"] + all_states["timed_out"]}  # fmt: skip


BY_DIVISION = [
    row("", "disconnect", 2, failed=1, timed_out=1),  # M5 (circle only), M6 (no point)
    row("D11", "connect", 2, sent=1, executed=1),
    row("D11", "disconnect", 2, awaiting_approval=1, sent=1),  # M1 via SEC1 › SD111 › D11
    row("D12", "disconnect", 1, executed=1),
    row("D21", "disconnect", 1, canceled=1),
]
BY_CIRCLE = [
    row("", "disconnect", 1, timed_out=1),
    row("C1", "connect", 2, sent=1, executed=1),
    row("C1", "disconnect", 3, awaiting_approval=1, sent=1, executed=1),
    row("C2", "disconnect", 2, failed=1, canceled=1),
]


def without_names(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("level", "unit_name")} for r in rows]


@pytest.fixture
def hub_with_commands(serve: Callable[..., Any], tmp_path: Path) -> tuple[Hub, str]:
    hub, base = serve()
    seed(hub, tmp_path)
    return hub, base


def test_the_summary_by_division_and_by_circle_as_json_and_csv(
    hub_with_commands: tuple[Hub, str],
) -> None:
    _hub, base = hub_with_commands
    url = f"{base}/api/v1/tenants/{TENANT}/reports/disconnections"
    headers = {"X-Cimhub-Tenant": TENANT}
    by_division = httpx.get(url, headers=headers).json()
    assert without_names(by_division["rows"]) == BY_DIVISION
    assert [r["unit_name"] for r in by_division["rows"]][:2] == ["(unassigned)", "Division 11"]
    summary = by_division["summary"]
    assert (summary["level"], summary["total"], summary["units"]) == ("division", 8, 4)
    assert summary["by_kind"] == {"disconnect": 6, "connect": 2}
    assert summary["end"] - summary["start"] == 30 * DAY

    text = httpx.get(url, params={"level": "circle", "format": "csv"}, headers=headers).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["level"] for r in rows] == ["circle"] * 4
    numbers = [{k: v if k in TEXT else int(v) for k, v in r.items()} for r in rows]
    assert without_names(numbers) == BY_CIRCLE


def test_the_period_picks_the_commands_created_in_it(hub_with_commands: tuple[Hub, str]) -> None:
    _hub, base = hub_with_commands
    url = f"{base}/api/v1/tenants/{TENANT}/reports/disconnections"
    now = int(time.time())
    params = {"start": to_text(now - 90 * DAY), "end": to_text(now - 30 * DAY)}
    earlier = httpx.get(url, params=params, headers={"X-Cimhub-Tenant": TENANT}).json()
    assert without_names(earlier["rows"]) == [row("D12", "disconnect", 1, awaiting_approval=1)]
    bad = httpx.get(
        url, params={"start": "2024-06-01T00:00:00"}, headers={"X-Cimhub-Tenant": TENANT}
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "2.2")


def test_the_cli_prints_the_same_summary(
    hub_with_commands: tuple[Hub, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub, _base = hub_with_commands
    monkeypatch.setenv("CIMHUB_DATABASE_URL", hub.settings.database_url)
    capsys.readouterr()
    assert main(["control", "disconnections", "--tenant", TENANT, "--level", "circle",
                 "--csv"]) == 0  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["unit"], r["kind"], r["total"], r["pending"]) for r in rows] == [
        (r["unit"], r["kind"], str(r["total"]), str(r["pending"])) for r in BY_CIRCLE
    ]
    assert main(["control", "disconnections", "--tenant", TENANT, "--start", "yesterday"]) == 2
