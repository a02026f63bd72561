"""Import master-data CSV files: all-or-nothing per file, idempotent, with a dry run.

Each file is applied in one transaction, in dependency order (organisation, network,
meter, consumer). Rows are read and checked first; then the whole file is written with
set-based statements. If anything is wrong the file is rolled back, and the rows are
tried one by one (each in a savepoint) only to name every failing row. A dry run does
all of it and rolls back even when nothing failed. Re-importing the same files changes
nothing: rows are upserts, and links already in place are skipped.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cimhub.errors import CimHubError
from cimhub.imports.rows import ORDER, Kind, Parsed, RowError, parse
from cimhub.store.database import Database
from cimhub.store.master_data import Provenance
from cimhub.store.meter_assets import Mode
from cimhub.store.unit_of_work import UnitOfWork

#: Stop naming failing rows of a file after this many.
MAX_ERRORS = 200
Step = Callable[[str, str], None]  # (file, what is happening now)


@dataclass(slots=True)
class FileReport:
    file: str
    kind: Kind
    rows: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    links: int = 0
    applied: bool = False
    seconds: float = 0.0
    errors: list[RowError] = field(default_factory=list)


class _RollBack(Exception):
    """Raised inside a unit of work to undo it (dry run, or a failed file)."""


def kind_of(path: Path) -> Kind:
    """The kind a file's name starts with: organisation…, network…, meter…, consumer…."""
    name = path.name.lower()
    for kind in Kind:
        if name.startswith(kind.value[:3]):
            return kind
    raise ValueError(
        f"{path.name}: cannot tell the kind (name it organisation/network/meter/consumer…)"
    )


def import_files(
    database: Database,
    tenant: str,
    paths: Sequence[Path],
    *,
    dry_run: bool = False,
    kinds: dict[Path, Kind] | None = None,
    step: Step | None = None,
) -> list[FileReport]:
    """Import the files (dependency order) into ``tenant``; one report per file.

    Each file commits on its own. A dry run checks every file as if the ones before it
    had been applied (one transaction, a savepoint per file), then rolls all of it back.
    """
    kinds = {p: (kinds or {}).get(p) or kind_of(p) for p in paths}
    ordered = sorted(paths, key=lambda p: ORDER.index(kinds[p]))
    report_step = step or (lambda f, s: None)
    reports: list[FileReport] = []
    if not dry_run:
        for path in ordered:
            with database.unit_of_work(hub=True) as uow:
                tenant_id = uow.tenants.ensure(tenant)
                reports.append(_import_file(uow, tenant_id, path, kinds[path], report_step))
        return reports
    try:
        with database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.ensure(tenant)
            for path in ordered:
                reports.append(_import_file(uow, tenant_id, path, kinds[path], report_step))
            raise _RollBack()
    except _RollBack:
        pass
    for report in reports:
        report.applied = False
    return reports


def _import_file(uow: UnitOfWork, tenant_id: int, path: Path, kind: Kind, step: Step) -> FileReport:
    started = time.perf_counter()
    report = FileReport(path.name, kind)
    step(path.name, "reading")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    report.rows = len(rows)
    step(path.name, "checking rows")
    parsed = parse(kind, path.name, rows)
    report.errors = list(parsed.errors)
    origin = Provenance(f"csv import {path.name}", None, int(time.time()))
    step(path.name, "writing")
    savepoint = uow.session.begin_nested()
    try:
        _apply(uow, tenant_id, parsed, report, origin)
    except CimHubError as exc:
        savepoint.rollback()
        report.created = report.changed = report.unchanged = report.links = 0
        step(path.name, "finding the failing rows")
        found = _diagnose(uow, tenant_id, parsed, origin, path.name)
        # A rule only the whole file breaks (e.g. the same serial on two rows): name the
        # last row that carries the object.
        report.errors += found or [RowError(path.name, _row_of(parsed, exc), exc.code, exc.reason)]
    else:
        if report.errors:
            savepoint.rollback()
        else:
            savepoint.commit()
            step(path.name, "committing")
    report.errors.sort(key=lambda e: e.row)
    report.applied = not report.errors
    report.seconds = time.perf_counter() - started
    return report


def _apply(
    uow: UnitOfWork, tenant_id: int, parsed: Parsed, report: FileReport, origin: Provenance
) -> None:
    results = []
    if parsed.nodes:
        created, changed = uow.hierarchy.save(tenant_id, [s for _, s in parsed.nodes])
        report.created += created
        report.changed += changed
        report.unchanged += len(parsed.nodes) - created - changed
    if parsed.meters:
        results.append(
            uow.meter_assets.save(
                tenant_id, [s for _, s in parsed.meters], Mode.UPSERT, source=origin.source
            )
        )
    if parsed.points:
        results.append(uow.usage_points.save(tenant_id, [s for _, s in parsed.points], Mode.UPSERT))
    for result in results:
        report.created += result.created
        report.changed += result.changed
        report.unchanged += result.unchanged
    if parsed.links:
        report.links = uow.master.install(tenant_id, [s for _, s in parsed.links], origin).count


def _diagnose(
    uow: UnitOfWork, tenant_id: int, parsed: Parsed, origin: Provenance, file: str
) -> list[RowError]:
    """Apply row by row, each in a savepoint, to name every failing row; then undo it all."""
    errors: list[RowError] = []
    by_row: dict[int, Parsed] = {}
    for attr in ("nodes", "meters", "points", "links"):
        for number, spec in getattr(parsed, attr):
            one = by_row.setdefault(number, Parsed([], [], [], [], []))
            getattr(one, attr).append((number, spec))
    outer = uow.session.begin_nested()
    for number in sorted(by_row):
        if len(errors) >= MAX_ERRORS:
            break
        try:
            with uow.session.begin_nested():
                _apply(uow, tenant_id, by_row[number], FileReport(file, Kind.METER), origin)
        except CimHubError as exc:
            errors.append(RowError(file, number, exc.code, exc.reason))
    outer.rollback()
    return errors


def _row_of(parsed: Parsed, error: CimHubError) -> int:
    """The last row whose spec names the error's object (0 if none does)."""
    rows = [
        number
        for attr in ("nodes", "meters", "points", "links")
        for number, spec in getattr(parsed, attr)
        if error.object_id
        and error.object_id
        in {
            getattr(spec, name, None)
            for name in ("code", "mrid", "serial_number", "consumer_number", "meter", "usage_point")
        }
    ]
    return max(rows, default=0)
