"""`cimhub exceptions sweep` and `cimhub exceptions list` against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cimhub.app import Hub
from cimhub.cli import main
from cimhub.imports.csv_import import import_files
from cimhub.settings import Settings
from cimhub.testing.masterdata import write_discom


def test_sweep_then_list(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = Hub.build(Settings(database_url=database_url))
    try:
        assert all(r.applied for r in import_files(hub.database, "t1", write_discom(tmp_path, 3)))
    finally:
        hub.close()
    monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
    assert main(["exceptions", "sweep"]) == 0  # installed in January 2024, silent since
    assert json.loads(capsys.readouterr().out) == {"exceptions": {"t1": 5}}  # 3 + DT + feeder
    assert main(["exceptions", "list", "--tenant", "t1", "--status", "open"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 5 and {r["kind"] for r in rows} == {"communication_failure"}
    assert "SM0000000" in {r["meter"] for r in rows}
