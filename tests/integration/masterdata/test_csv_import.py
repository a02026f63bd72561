"""CSV import: dry run, all-or-nothing per file, idempotent, every error by file and row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cimhub.imports.csv_import import import_files
from cimhub.store.database import Database
from cimhub.testing.masterdata import write_discom

TENANT = "ladakh"


def counts(db: Database) -> tuple[int, int, int]:
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        queries = uow.master_queries
        return (
            uow.hierarchy.count(tenant_id),
            queries.meters(tenant_id, {}, limit=0, offset=0).total,
            queries.usage_points(tenant_id, {}, limit=0, offset=0).total,
        )


def test_a_discom_imports_and_reimports_without_change(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    db.upgrade()
    files = write_discom(tmp_path, 300)
    first = import_files(db, TENANT, files)
    assert [(r.kind.value, r.applied, r.errors) for r in first] == [
        ("organisation", True, []),
        ("network", True, []),
        ("meter", True, []),
        ("consumer", True, []),
    ]
    meters = first[2]
    assert (meters.created, meters.links) == (300 + 1 + 6, 7)  # consumer + feeder + DT meters
    assert (first[3].created, first[3].links) == (300, 300)
    before = counts(db)
    again = import_files(db, TENANT, files)
    assert all(r.applied and r.created == r.changed == r.links == 0 for r in again)
    assert counts(db) == before == (3 + 1 + 1 + 1 + 1 + 6, 307, 300)  # org 5, network 8
    db.dispose()


def test_dry_run_reports_and_stores_nothing(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    db.upgrade()
    files = write_discom(tmp_path, 20)
    reports = import_files(db, TENANT, files, dry_run=True)
    assert all(not r.applied and not r.errors for r in reports)
    assert counts(db) == (0, 0, 0)
    db.dispose()


def test_one_bad_row_keeps_its_whole_file_out(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    db.upgrade()
    files = write_discom(tmp_path, 20)
    network = tmp_path / "network.csv"
    network.write_text(
        network.read_text()
        + "DT99,DT 99,dt,F-NOWHERE\nF0,Feeder 0,feeder,DT0\nBAD,Bad,dt,SS0\nX1,X,zone,\n"
    )
    reports = {r.file: r for r in import_files(db, TENANT, files)}
    assert reports["organisation.csv"].applied and reports["meter.csv"].applied is False
    net = reports["network.csv"]
    assert not net.applied
    assert [(e.row, e.code) for e in net.errors] == [
        (4, "2.15"),  # unknown parent
        (5, "3.3"),  # F0 a second time (now under a DT)
        (6, "3.1"),  # a DT under a substation
        (7, "2.1"),  # unknown level
    ]
    assert reports["consumer.csv"].errors and not reports["consumer.csv"].applied
    assert counts(db)[1:] == (0, 0)  # meters referred to network nodes that were not applied
    db.dispose()


def test_the_cli_imports_with_a_dry_run_first(tmp_path: Path) -> None:
    """The command on the embedded default (the import itself runs on both backends above)."""
    files = [str(f) for f in write_discom(tmp_path, 10)]
    env = {**os.environ, "CIMHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    cli = [sys.executable, "-m", "cimhub.cli", "import", "csv", "--tenant", TENANT]
    dry = subprocess.run([*cli, "--dry-run", *files], env=env, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "would apply" in dry.stderr
    run = subprocess.run([*cli, *files], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "consumer.csv (consumer): 10 rows, 10 new" in run.stderr
    bad = tmp_path / "meter-extra.csv"
    bad.write_text("serial_number,ct_ratio\nS1,forty\n")
    failed = subprocess.run([*cli, str(bad)], env=env, capture_output=True, text=True)
    assert failed.returncode == 1
    assert "meter-extra.csv:1: [2.1]" in failed.stderr


def test_a_duplicate_across_rows_names_the_row(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    db.upgrade()
    files = write_discom(tmp_path, 20)
    consumer = tmp_path / "consumer.csv"
    consumer.write_text(consumer.read_text().replace("N00000003,", "N00000002,", 1))
    reports = {r.file: r for r in import_files(db, TENANT, files)}
    assert [(e.row, e.code) for e in reports["consumer.csv"].errors] == [(4, "3.3")]
    assert counts(db)[2] == 0
    db.dispose()


def test_the_cli_sets_a_tenants_own_settings(tmp_path: Path) -> None:
    env = {**os.environ, "CIMHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    command = [sys.executable, "-m", "cimhub.cli", "tenant", TENANT, "--auto-register", "off"]
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    code, name, *settings = run.stdout.rstrip("\n").split("\t")
    assert (code, name) == (TENANT, TENANT)
    assert "auto-register off" in settings  # one column per setting; others may follow


def test_a_row_naming_a_deleted_meter_is_refused(database_url: str, tmp_path: Path) -> None:
    """A deleted meter's serial is not reused nor brought back by a re-import: its row is
    refused (3.3) and the file stays out, so the MDM and the billing file are reconciled
    by a person, not silently."""
    db = Database(database_url)
    db.upgrade()
    files = write_discom(tmp_path, 5)
    assert all(r.applied for r in import_files(db, TENANT, files))
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        meter = uow.meter_assets.require(tenant_id, ["SM0000001"])["SM0000001"]
        uow.meter_assets.set_status([meter.id], "deleted")
    reports = {r.file: r for r in import_files(db, TENANT, files)}
    errors = reports["meter.csv"].errors
    assert [(e.row, e.code) for e in errors] == [(2, "3.3")]  # SM0000001, the second row
    assert "deleted" in errors[0].reason
    db.dispose()
