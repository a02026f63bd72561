"""`cimhub import csv …`: the import with a rich progress bar and a report per file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from cimhub.imports.csv_import import import_files
from cimhub.imports.rows import Kind
from cimhub.settings import Settings
from cimhub.store.database import Database

STEPS = ("reading", "checking rows", "writing", "committing")


def run_csv_import(
    settings: Settings, files: Sequence[Path], *, tenant: str, dry_run: bool, kind: str | None
) -> int:
    """Exit status 0 when every file was (or, in a dry run, would be) applied, else 1."""
    console = Console(stderr=True)
    missing = [f for f in files if not f.is_file()]
    if missing:
        console.print(f"[red]no such file: {', '.join(map(str, missing))}[/red]")
        return 2
    kinds = {f: Kind(kind) for f in files} if kind else None
    database = Database.migrated(settings.database_url)
    with (
        database,
        Progress(
            TextColumn("{task.description:<32}"),
            BarColumn(),
            TextColumn("{task.fields[step]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress,
    ):
        tasks = {f.name: progress.add_task(f.name, total=len(STEPS), step="waiting") for f in files}

        def step(file: str, what: str) -> None:
            done = STEPS.index(what) if what in STEPS else len(STEPS) - 1
            progress.update(tasks[file], completed=done, step=what)

        reports = import_files(database, tenant, files, dry_run=dry_run, kinds=kinds, step=step)
        for report in reports:
            progress.update(
                tasks[report.file],
                completed=len(STEPS),
                step="ok" if not report.errors else "FAILED",
            )
    failed = 0
    for r in reports:
        verdict = (
            "would apply"
            if dry_run and not r.errors
            else ("applied" if r.applied else "NOT applied")
        )
        console.print(
            f"{r.file} ({r.kind}): {r.rows} rows, {r.created} new, {r.changed} changed, "
            f"{r.unchanged} unchanged, {r.links} links — {verdict} in {r.seconds:.1f} s"
        )
        for error in r.errors:
            console.print(f"  [red]{error}[/red]")
        failed += bool(r.errors)
    return 1 if failed else 0
