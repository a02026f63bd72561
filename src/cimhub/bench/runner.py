"""Run the registered scenarios with a progress bar; print, and optionally write, results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cimhub.bench import machine, report
from cimhub.bench.context import Context
from cimhub.bench.plan import Plan, default_scenarios
from cimhub.bench.scenario import Results, Scenario, ScenarioUnavailable
from cimhub.testing.databases import POSTGRES_ADMIN_URL

SKELETON = """# Benchmarks

How fast cimhub ingests and answers, measured against baselines taken in the same run
on the same bytes and rows (issue 8). Regenerate the block below with
`cimhub bench --write` (a few minutes; `--quick` for a smoke run of seconds).
"""


def postgres_version() -> str | None:
    """The server's version, or None when the PostgreSQL the tests use is not there."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    except Exception:  # no driver, no server: the run goes on without PostgreSQL
        return None


def run(
    plan: Plan,
    *,
    backends: Sequence[str] | None = None,
    only: Sequence[str] = (),
    pin: bool = True,
    write: Path | None = None,
    json_path: Path | None = None,
    console: Console | None = None,
) -> Results:
    if console is None:
        console = Console()
        if not console.is_terminal:  # a log or a pipe: keep the tables' rows on one line
            console = Console(width=200)
    pg = postgres_version()
    available = [b for b in (backends or ("sqlite", "postgresql")) if b != "postgresql" or pg]
    results = Results()
    if pg is None and (backends is None or "postgresql" in backends):
        results.skipped.append(("PostgreSQL scenarios", f"no server at {POSTGRES_ADMIN_URL}"))
    pinned = machine.pin_self() if pin else "not pinned (--no-pin)"
    info = machine.info(pg) | {"mode": _mode(plan), "cores": pinned}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        ctx = Context(plan, progress, tuple(available), pin=pin)
        try:
            for scenario in default_scenarios():
                if only and not any(scenario.name.startswith(o) for o in only):
                    continue
                _run_one(ctx, scenario, results)
        finally:
            ctx.close()
    info["load average at end"] = machine.load_average()
    report.print_results(console, results, info)
    if json_path:
        json_path.write_text(json.dumps(_as_json(results, info), indent=1))
    if write:
        command = (
            "cimhub bench"
            + (" --quick" if plan.quick else "")
            + (f" --scale {plan.scale:g}" if plan.scale != 1 else "")
        )
        report.write(write, report.markdown(results, info, command), lambda: SKELETON)
        console.print(f"wrote {write}")
    return results


def _run_one(ctx: Context, scenario: Scenario, results: Results) -> None:
    if scenario.run is None:
        results.skipped.append((scenario.name, f"not built yet ({scenario.component})"))
        return
    if scenario.backends and not set(scenario.backends) & set(ctx.backends):
        results.skipped.append((scenario.name, "no store it runs on is available"))
        return
    try:
        figures = scenario.run(ctx)
    except ScenarioUnavailable as exc:
        results.skipped.append((scenario.name, f"cannot run here: {exc}"))
        return
    for figure in figures:
        results.add(figure)


def _mode(plan: Plan) -> str:
    mode = "--quick" if plan.quick else "default"
    return mode + (f", --scale {plan.scale:g}" if plan.scale != 1 else "")


def _as_json(results: Results, info: dict[str, str]) -> dict[str, object]:
    return {
        "machine": info,
        "tables": {
            table: [{"key": list(key), **row} for key, row in rows.items()]
            for table, rows in results.rows.items()
        },
        "skipped": results.skipped,
    }
