"""`cimhub bench --quick`: it runs, and its numbers are sane. No timing assertions here:
CI machines vary; the figures themselves are judged in BENCHMARKS.md, not by tests."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from cimhub.bench import report
from cimhub.bench.plan import Plan
from cimhub.bench.runner import run
from cimhub.bench.scenario import Results
from cimhub.bench.traffic import size_label
from cimhub.cli import main

pytestmark = pytest.mark.slow  # about a minute a store

QUICK = Plan(quick=True)
SIZES = [size_label(size) for size in QUICK.sizes]


def sane(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], scope="module"
)
def quick_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Results, Path, str]:
    """One quick run per backend, written to a BENCHMARKS.md holding hand-written notes."""
    backend = request.param
    folder = tmp_path_factory.mktemp(f"bench-{backend}")
    (folder / "BENCHMARKS.md").write_text("# Benchmarks\n\nHand-written analysis stays.\n")
    console = Console(file=io.StringIO(), width=200)
    results = run(
        QUICK,
        backends=[backend],
        pin=False,  # never pin the test process to one core
        write=folder / "BENCHMARKS.md",
        json_path=folder / "bench.json",
        console=console,
    )
    assert isinstance(console.file, io.StringIO)
    return backend, results, folder, console.file.getvalue()


def test_ingest_and_its_baselines_are_measured_for_every_size(
    quick_run: tuple[str, Results, Path, str],
) -> None:
    backend, results, _, _ = quick_run
    for size in SIZES:
        row = results.table("ingest")[(backend, size)]
        for figure in ("e2e", "parse_validate", "store_alone", "ms_per_message"):
            assert sane(row.get(figure)), (size, figure, row)
        assert 0 < row["cpu_share"] <= 1.5  # CPU seconds per wall second of one thread
        assert report.floor(row) is not None
        for figure in ("e2e", "parse_validate", "store_alone"):  # the median of the runs
            assert row[f"{figure}_runs"] == QUICK.repeats
            assert row[f"{figure}_low"] <= row[figure] <= row[f"{figure}_high"], (figure, row)
    for size in QUICK.sizes:  # the naive reference runs on the smaller messages only
        if size <= QUICK.naive_max_size:
            assert sane(results.get("ingest", (backend, size_label(size)), "naive"))
    for group in QUICK.groups:  # one-meter messages grouped as a worker does
        row = results.table("grouped")[(backend, f"1×96, {group} a batch")]
        assert sane(row.get("e2e")) and row["e2e_runs"] == QUICK.repeats


def test_each_ingest_size_says_where_a_readings_time_went(
    quick_run: tuple[str, Results, Path, str],
) -> None:
    """The stages of an ingest run (µs a reading, exclusive) add up to about its wall
    time, and the report itemises them beside the floor. The meters stand at usage points,
    as a utility's do: every run recomputes the daily billing aggregates."""
    backend, results, _, printed = quick_run
    stages = results.table("stages")
    for size in SIZES:
        row, ingest = stages[(backend, size)], results.table("ingest")[(backend, size)]
        assert set(row) >= {"parse", "validate", "map", "store raw", "vee rules", "vee store"}
        assert all(v >= 0 for v in row.values())
        meters = int(size.split("×")[0])
        assert ingest["daily_rows"] >= meters, (size, ingest)  # a day of each meter at least
        assert "daily aggregates" in row
        wall = 1e6 / ingest["e2e"]  # µs a reading, end to end
        assert 0.8 * wall <= sum(row.values()) <= 1.01 * wall, (size, row, wall)
    for group in QUICK.groups:
        assert sane(stages[(backend, f"1×96, {group} a batch")].get("vee store"))
    assert "Where a reading's time goes" in printed and "the largest stages:" in printed


def test_query_latencies_are_ordered_percentiles_of_full_replies(
    quick_run: tuple[str, Results, Path, str],
) -> None:
    backend, results, _, _ = quick_run
    for layer in ("", ", validated"):  # raw readings (VEE off), VEE's layer (the default)
        month = results.table("query")[(backend, "one meter-month" + layer)]
        day = results.table("query")[(backend, "100 meters-day" + layer)]
        for row in (month, day):
            assert 0 < row["p50"] <= row["p95"] <= row["p99"]
            assert row["rows"] >= QUICK.query_rows and row["queries"] == QUICK.query_repeats
        assert month["readings"] == 31 * 96


def test_each_query_says_where_its_time_went(quick_run: tuple[str, Results, Path, str]) -> None:
    backend, results, _, printed = quick_run
    for (b, query), row in results.table("query").items():
        stages = results.table("query_stages")[(b, query)]
        assert set(stages) >= {"parse", "validate", "read page", "meter names", "render readings"}
        assert "store raw" not in stages and "idempotency" not in stages  # a query stores nothing
        assert 0.8 * row["mean"] <= sum(stages.values()) <= 1.01 * row["mean"], (query, stages)
        assert b == backend
    assert "Where a GetMeterReadings' time goes" in printed


def test_memory_is_measured_per_message_size(quick_run: tuple[str, Results, Path, str]) -> None:
    _, results, _, _ = quick_run
    assert [key[0] for key in results.table("memory")] == SIZES
    for row in results.table("memory").values():
        assert sane(row["rss_per_reading"]) or row["rss_peak"] == 0
        assert sane(row["py_per_reading"]) and sane(row["message_bytes"])


def test_every_scenario_is_built_and_ran(
    quick_run: tuple[str, Results, Path, str],
) -> None:
    _, results, _, printed = quick_run
    skipped = dict(results.skipped)
    assert not {name for name, why in skipped.items() if why.startswith("not built yet")}
    assert "Targets (issue 8)" in printed and "not built yet" not in printed


def test_the_billing_run_is_measured_over_a_month_of_usage_points(
    quick_run: tuple[str, Results, Path, str],
) -> None:
    backend, results, _, _ = quick_run
    row = results.table("billing")[(backend, "20 usage-point-months")]
    assert row["points"] == 20 and sane(row["seconds"]) and sane(row["per_second"])
    assert row["seconds_10k"] == pytest.approx(10_000 * row["seconds"] / 20)


def test_late_readings_are_measured_beside_an_on_time_day(
    quick_run: tuple[str, Results, Path, str],
) -> None:
    """The scenario itself checks that the late day replaced one estimate per reading
    (BenchError otherwise); here: one row per message size of 100 meters or more."""
    backend, results, _, printed = quick_run
    rows = results.table("late")
    assert set(rows) == {(backend, size_label(s)) for s in QUICK.sizes if s >= 100}
    for row in rows.values():
        assert sane(row.get("on_time")) and sane(row.get("late")), row
    assert "Late readings" in printed


def test_local_days_are_measured_beside_utc_days(
    quick_run: tuple[str, Results, Path, str],
) -> None:
    """Messages of IST days, as Indian head-ends push them: the daily aggregates have
    nothing to read back, and the report sets them beside the UTC days'."""
    backend, results, _, printed = quick_run
    if backend == "sqlite":
        assert dict(results.skipped)["ingest of local days"] == "no store it runs on is available"
        return
    rows = results.table("local_days")
    assert set(rows) == {(backend, size_label(s)) for s in QUICK.sizes if s >= 100}
    for row in rows.values():
        assert sane(row.get("e2e")) and sane(row.get("aggregates")), row
        assert row["e2e_low"] <= row["e2e"] <= row["e2e_high"], row
    assert "Ingest of local days" in printed


def test_ingest_over_rabbitmq_is_measured_with_one_and_two_workers(
    quick_run: tuple[str, Results, Path, str],
) -> None:
    backend, results, _, printed = quick_run
    skipped = dict(results.skipped)
    if backend == "sqlite":  # competing workers need a store with concurrent writers
        assert skipped["ingest over RabbitMQ, 2 workers"] == "no store it runs on is available"
        assert "bus" not in results.rows
        return
    largest = max(QUICK.sizes)
    head_ends = f"{size_label(largest)}, {2 * largest} meters of two head-ends"
    for size in [*SIZES, head_ends]:  # the last: consecutive messages are different meters
        row = results.table("bus")[(backend, size)]
        assert sane(row.get("workers_1")) and sane(row.get("workers_2")), (size, row)
        assert row["workers_1_runs"] == row["workers_2_runs"] == QUICK.repeats
    verdicts = {target: verdict for target, _, verdict in report.targets(results)}
    assert verdicts["two workers: report the scaling and what limits it"] == "reported"
    assert "Ingest over RabbitMQ" in printed and "two head-ends" in printed


def test_write_replaces_only_the_generated_block(
    quick_run: tuple[str, Results, Path, str],
) -> None:
    backend, _, folder, _ = quick_run
    text = (folder / "BENCHMARKS.md").read_text()
    assert text.startswith("# Benchmarks\n\nHand-written analysis stays.\n")
    assert text.count(report.BEGIN) == text.count(report.END) == 1
    assert "Where we stand against the targets of issue 8" in text
    assert f"| {backend} | 1×96 |" in text
    report.write(folder / "BENCHMARKS.md", "new block\n", lambda: "")
    rewritten = (folder / "BENCHMARKS.md").read_text()
    assert "Hand-written analysis stays." in rewritten and "new block" in rewritten
    assert "| 1×96 |" not in rewritten
    saved = json.loads((folder / "bench.json").read_text())
    assert {"ingest", "query", "memory"} <= saved["tables"].keys()


def test_the_command_line_runs_one_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "--quick", "--backend", "sqlite", "--only", "baseline: parse", "--no-pin"]
    assert main(argv) == 0
    assert "parse+validate alone" in capsys.readouterr().out


def test_traffic_is_deterministic_and_may_carry_register_reads(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cimhub.bench.traffic import message
    from cimhub.bus.pipeline import Inbound, Pipeline
    from cimhub.domain.reading import ReadingKind
    from cimhub.handlers.registry import default_registry
    from cimhub.settings import Settings
    from cimhub.store.database import Database
    from cimhub.testing.databases import sqlite_url
    from cimhub.testing.messages import created_meter_readings

    assert message(range(1, 3), 1, 96, "t") == message(range(1, 3), 1, 96, "t")
    raw = created_meter_readings(
        [1, 2],
        datetime(2026, 3, 1, tzinfo=UTC),
        96,
        message_id="with-registers",
        sent_at=datetime(2026, 3, 2, tzinfo=UTC),
        register_reads=True,
    )
    url = sqlite_url(tmp_path)
    database = Database(url)
    database.upgrade()
    pipeline = Pipeline(Settings(database_url=url), database, default_registry())
    answer = pipeline.process(Inbound(raw, "t1", "test"))
    assert answer.result.value == "OK", answer.body
    with database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("t1")
        assert uow.readings.count(tenant_id, ReadingKind.REGISTER) == 2
        assert uow.readings.count(tenant_id, ReadingKind.INTERVAL) == 192
    database.dispose()
