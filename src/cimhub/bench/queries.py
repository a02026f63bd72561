"""GetMeterReadings latency over a store holding millions of interval readings.

The rows are bulk-loaded first (binary COPY on PostgreSQL, executemany on SQLite) in
arrival order — day after day, each meter's 96 readings together, as daily pushes land
— then vacuumed and analysed as autovacuum would have: as raw readings, queried with VEE
off (``run``), or as VEE's validated layer, queried with VEE on, the hub's default
(``run_validated``). Each query goes through ``Pipeline.process`` (parse, validate,
resolve the meter, read, render the reply).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from cimhub.bench.context import TENANT, Advance, BenchError, Context
from cimhub.bench.ingest import TRANSPORT, stage_seconds, vee_built
from cimhub.bench.scenario import Figure
from cimhub.bench.traffic import SOURCE
from cimhub.bus.pipeline import Inbound, Pipeline
from cimhub.domain.reading import ReadingKind
from cimhub.message.reply import Result
from cimhub.store import partitions, validated
from cimhub.store.database import Database
from cimhub.store.staging import READING_COLUMNS as COLUMNS
from cimhub.store.staging import READING_TYPES
from cimhub.testing.messages import (
    KWH_15MIN,
    get_meter_readings,
    load_kwh,
    meter_mrid,
    meter_serial,
)
from cimhub.vee import quality
from cimhub.vee.engine import VALIDATED

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
SLOT = 900
METER_ONE_MONTH = "one meter-month"
METERS_ONE_DAY = "100 meters-day"


@dataclass(frozen=True)
class Layer:
    """Where the rows are loaded and the queries answered from."""

    table: str
    columns: str
    types: list[str]
    row: Callable[[int, int, int, int, float, int], tuple[Any, ...]]
    settings: dict[str, object]  # the pipeline's: which layer GetMeterReadings reads
    suffix: str  # of the figures' labels


def _raw_row(tenant_id: int, meter: int, type_id: int, ts: int, value: float, at: int) -> Any:
    return (tenant_id, meter, type_id, ts, value, "", 1, SOURCE, None, at)


def _validated_row(tenant_id: int, meter: int, type_id: int, ts: int, value: float, at: int) -> Any:
    """As VEE stores a reading that passed every rule (``validated.INSERT_COLUMNS``)."""
    passed = (quality.VALIDATED, VALIDATED, "", "", "", "1")  # quality … config version
    return (meter, type_id, ts, ReadingKind.INTERVAL.value, value, *passed, tenant_id, 1, at)


#: With VEE built, GetMeterReadings reads the validated layer; with it off, raw readings.
RAW = Layer("interval_reading", COLUMNS, READING_TYPES, _raw_row, {"vee_enabled": False}, "")
VALIDATED_LAYER = Layer(
    validated.CURRENT.name,
    ", ".join(validated.INSERT_COLUMNS),
    validated.COPY_TYPES,
    _validated_row,
    {},
    ", validated",
)


def run(ctx: Context) -> list[Figure]:
    """The raw layer (VEE off, or not built)."""
    return _run(ctx, RAW if vee_built() else replace(RAW, settings={}))


def run_validated(ctx: Context) -> list[Figure]:
    """VEE's validated layer: what GetMeterReadings answers from by default."""
    return _run(ctx, VALIDATED_LAYER)


def _run(ctx: Context, layer: Layer) -> list[Figure]:
    figures = []
    days = ctx.plan.query_days
    meters = math.ceil(ctx.plan.query_rows / (96 * days))
    for backend in ctx.backends:
        with ctx.database(backend) as url:
            pipeline = ctx.pipeline(url, **layer.settings)
            rows, rate = _load(ctx, pipeline.database, backend, meters, days, layer)
            figures += _measure(ctx, pipeline, backend, (meters, days, rows, rate), layer)
    return figures


def _load(
    ctx: Context, database: Database, backend: str, meters: int, days: int, layer: Layer
) -> tuple[int, float]:
    """Store ``meters`` × ``days`` × 96 readings; (rows, rows/s of the load)."""
    total = meters * days * 96
    with database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        type_id = uow.reading_types.ids_for([KWH_15MIN])[KWH_15MIN]
        if backend == "postgresql":
            first = int(YEAR_START.timestamp())
            partitions.ensure_months(uow, first, first + days * 86_400)
    values = _values()
    connection = database.engine.raw_connection()
    try:
        driver: Any = connection.driver_connection
        _meters(driver, backend, tenant_id, meters)
        title = f"queries {backend}: load {total:,} readings{layer.suffix}"
        with ctx.task(title, total) as advance:
            started = time.perf_counter()
            load = _copy if backend == "postgresql" else _insert
            load(driver, layer, (tenant_id, type_id, meters, days), values, advance)
            rate = total / (time.perf_counter() - started)
    finally:
        connection.close()
    _analyse(database, backend, layer)
    return total, rate


def _values() -> list[list[float]]:
    """A day's 96 values per meter class (meter % 7), as the HES simulator makes them."""
    return [
        [load_kwh(k, YEAR_START + timedelta(minutes=15 * (i + 1))) for i in range(96)]
        for k in range(7)
    ]


def _meters(driver: Any, backend: str, tenant_id: int, meters: int) -> None:
    rows = [(tenant_id, meter_mrid(n), 0, True) for n in range(1, meters + 1)]
    names = [(tenant_id, n, meter_serial(n), "name") for n in range(1, meters + 1)]
    meter_sql = "INSERT INTO meter (tenant_id, mrid, created_at, auto_registered) VALUES "
    name_sql = "INSERT INTO meter_name (tenant_id, meter_id, name, name_type) VALUES "
    if backend == "postgresql":
        with driver.cursor() as cursor:
            cursor.executemany(meter_sql + "(%s, %s, %s, %s)", rows)
            cursor.executemany(name_sql + "(%s, %s, %s, %s)", names)
        driver.commit()
    else:
        driver.execute("BEGIN")
        driver.executemany(meter_sql + "(?, ?, ?, ?)", rows)
        driver.executemany(name_sql + "(?, ?, ?, ?)", names)
        driver.execute("COMMIT")


Shape = tuple[int, int, int, int]  # tenant id, reading type id, meters, days


def _day_rows(
    layer: Layer, tenant_id: int, type_id: int, meter: int, day: int, values: list[list[float]]
) -> Iterator[tuple[Any, ...]]:
    first = int(YEAR_START.timestamp()) + day * 86_400 + SLOT
    received = first + 86_400
    for i, value in enumerate(values[meter % 7]):
        yield layer.row(tenant_id, meter, type_id, first + i * SLOT, value, received)


def _copy(driver: Any, layer: Layer, shape: Shape, values: Any, advance: Advance) -> None:
    """Arrival order: day by day, each meter's day together; one COPY per day."""
    tenant_id, type_id, meters, days = shape
    sql = f"COPY {layer.table} ({layer.columns}) FROM STDIN (FORMAT BINARY)"
    for day in range(days):
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(layer.types)
            for meter in range(1, meters + 1):
                for row in _day_rows(layer, tenant_id, type_id, meter, day, values):
                    copy.write_row(row)
        driver.commit()
        advance(meters * 96)


def _insert(driver: Any, layer: Layer, shape: Shape, values: Any, advance: Advance) -> None:
    """SQLite keeps the rows clustered by key whatever the order: load in key order."""
    tenant_id, type_id, meters, days = shape
    marks = ", ".join("?" * len(layer.types))
    sql = f"INSERT INTO {layer.table} ({layer.columns}) VALUES ({marks})"
    for meter in range(1, meters + 1):
        driver.execute("BEGIN")
        driver.executemany(
            sql,
            (
                r
                for day in range(days)
                for r in _day_rows(layer, tenant_id, type_id, meter, day, values)
            ),
        )
        driver.execute("COMMIT")
        advance(days * 96)


def _analyse(database: Database, backend: str, layer: Layer) -> None:
    """What autovacuum would have done by the time anyone queries (the meters too: without
    their statistics, a look-up of 100 meters by id may scan the tenant's every name)."""
    if backend == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f"VACUUM (ANALYZE) {layer.table}, meter, meter_name"))
    else:
        with database.engine.connect() as c:
            c.execute(text("ANALYZE"))


def _measure(
    ctx: Context,
    pipeline: Pipeline,
    backend: str,
    stored: tuple[int, int, int, float],  # meters, days, rows, rows/s of the load
    layer: Layer,
) -> list[Figure]:
    meters, days, rows, load_rate = stored
    rng = random.Random(61968)
    january = (YEAR_START, YEAR_START + timedelta(days=31))

    def one_meter_month() -> bytes:
        return get_meter_readings([meter_mrid(rng.randint(1, meters))], *january)

    def meters_day() -> bytes:
        day = YEAR_START + timedelta(days=rng.randrange(days - 1))
        chosen = rng.sample(range(1, meters + 1), min(100, meters))
        return get_meter_readings([meter_mrid(m) for m in chosen], day, day + timedelta(days=1))

    figures = []
    expected = {METER_ONE_MONTH: 31 * 96, METERS_ONE_DAY: min(100, meters) * 96}
    for label, make in ((METER_ONE_MONTH, one_meter_month), (METERS_ONE_DAY, meters_day)):
        label += layer.suffix
        title = f"queries {backend}: {label}"
        latencies, readings, spent = _latencies(ctx, pipeline, title, make)
        per_query = {name: 1e3 * s / len(latencies) for name, s in spent.items()}
        figures.append(Figure("query_stages", (backend, label), per_query))
        if readings != expected[label.removesuffix(layer.suffix)]:
            raise BenchError(f"{label} answered {readings} readings, not as {expected}")
        figures.append(
            Figure(
                "query",
                (backend, label),
                {
                    "p50": _percentile(latencies, 50),
                    "p95": _percentile(latencies, 95),
                    "p99": _percentile(latencies, 99),
                    "mean": statistics.fmean(latencies),
                    "readings": readings,
                    "rows": rows,
                    "queries": len(latencies),
                    "load_rate": load_rate,
                },
            )
        )
    return figures


#: queries asked before the timed ones
WARM_UP = 5


def _latencies(
    ctx: Context, pipeline: Pipeline, title: str, make: Any
) -> tuple[list[float], int, dict[str, float]]:
    """Each timed query's ms, the readings a reply holds, and the seconds of each stage."""
    repeats = ctx.plan.query_repeats
    requests = [make() for _ in range(repeats + WARM_UP)]
    readings = 0
    for raw in requests[:WARM_UP]:  # statement caches, first page touches
        readings = _ask(pipeline, raw)[1]
    latencies = []
    before = pipeline.clock.totals()
    with ctx.task(title, repeats) as advance:
        for raw in requests[WARM_UP:]:
            latencies.append(_ask(pipeline, raw)[0])
            advance(1)
    return latencies, readings, stage_seconds(before, pipeline.clock.totals())


def _ask(pipeline: Pipeline, raw: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    answer = pipeline.process(Inbound(raw, TENANT, TRANSPORT))
    elapsed = (time.perf_counter() - started) * 1000
    if answer.result is not Result.OK:
        raise BenchError(f"query answered {answer.result} {answer.code}: {answer.body[:400]!r}")
    return elapsed, answer.body.count(b"<IntervalReadings>")


def _percentile(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else math.nan
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]
