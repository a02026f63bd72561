"""GetMeterReadings latency over a store holding millions of interval readings.

The rows are bulk-loaded first as raw readings (binary COPY on PostgreSQL, executemany on SQLite) in
arrival order — day after day, each meter's 96 readings together, as daily pushes land
— then vacuumed and analysed as autovacuum would have. Each query goes through
``Pipeline.process`` (parse, validate, resolve the meter, read, render the reply).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from cimhub.bench.context import TENANT, Advance, BenchError, Context
from cimhub.bench.ingest import TRANSPORT, vee_built
from cimhub.bench.scenario import Figure
from cimhub.bench.traffic import SOURCE
from cimhub.bus.pipeline import Inbound, Pipeline
from cimhub.message.reply import Result
from cimhub.store import partitions
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

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
SLOT = 900
COPY = f"COPY interval_reading ({COLUMNS}) FROM STDIN (FORMAT BINARY)"
METER_ONE_MONTH = "one meter-month"
METERS_ONE_DAY = "100 meters-day"


def run(ctx: Context) -> list[Figure]:
    figures = []
    days = ctx.plan.query_days
    meters = math.ceil(ctx.plan.query_rows / (96 * days))
    # The rows are loaded as raw readings: with VEE built, queries ask for that layer.
    raw_layer = {"vee_enabled": False} if vee_built() else {}
    for backend in ctx.backends:
        with ctx.database(backend) as url:
            pipeline = ctx.pipeline(url, **raw_layer)
            rows, rate = _load(ctx, pipeline.database, backend, meters, days)
            figures += _measure(ctx, pipeline, backend, meters, days, rows, rate)
    return figures


def _load(
    ctx: Context, database: Database, backend: str, meters: int, days: int
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
        with ctx.task(f"queries {backend}: load {total:,} readings", total) as advance:
            started = time.perf_counter()
            if backend == "postgresql":
                _copy(driver, tenant_id, type_id, meters, days, values, advance)
            else:
                _insert(driver, tenant_id, type_id, meters, days, values, advance)
            rate = total / (time.perf_counter() - started)
    finally:
        connection.close()
    _analyse(database, backend)
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


def _day_rows(
    tenant_id: int, type_id: int, meter: int, day: int, values: list[list[float]]
) -> Iterator[tuple[Any, ...]]:
    first = int(YEAR_START.timestamp()) + day * 86_400 + SLOT
    received = first + 86_400
    for i, value in enumerate(values[meter % 7]):
        yield (tenant_id, meter, type_id, first + i * SLOT, value, "", 1, SOURCE, None, received)


def _copy(
    driver: Any, tenant_id: int, type_id: int, meters: int, days: int, values: Any, advance: Advance
) -> None:
    """Arrival order: day by day, each meter's day together; one COPY per day."""
    for day in range(days):
        with driver.cursor() as cursor, cursor.copy(COPY) as copy:
            copy.set_types(READING_TYPES)
            for meter in range(1, meters + 1):
                for row in _day_rows(tenant_id, type_id, meter, day, values):
                    copy.write_row(row)
        driver.commit()
        advance(meters * 96)


def _insert(
    driver: Any, tenant_id: int, type_id: int, meters: int, days: int, values: Any, advance: Advance
) -> None:
    """SQLite keeps the rows clustered by key whatever the order: load in key order."""
    marks = ", ".join("?" * len(READING_TYPES))
    sql = f"INSERT INTO interval_reading ({COLUMNS}) VALUES ({marks})"
    for meter in range(1, meters + 1):
        driver.execute("BEGIN")
        driver.executemany(
            sql,
            (r for day in range(days) for r in _day_rows(tenant_id, type_id, meter, day, values)),
        )
        driver.execute("COMMIT")
        advance(days * 96)


def _analyse(database: Database, backend: str) -> None:
    """What autovacuum would have done by the time anyone queries (the meters too: without
    their statistics, a look-up of 100 meters by id may scan the tenant's every name)."""
    if backend == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM (ANALYZE) interval_reading, meter, meter_name"))
    else:
        with database.engine.connect() as c:
            c.execute(text("ANALYZE"))


def _measure(
    ctx: Context,
    pipeline: Pipeline,
    backend: str,
    meters: int,
    days: int,
    rows: int,
    load_rate: float,
) -> list[Figure]:
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
        latencies, readings = _latencies(ctx, pipeline, f"queries {backend}: {label}", make)
        if readings != expected[label]:
            raise BenchError(f"{label} answered {readings} readings, not {expected[label]}")
        figures.append(
            Figure(
                "query",
                (backend, label),
                {
                    "p50": _percentile(latencies, 50),
                    "p95": _percentile(latencies, 95),
                    "p99": _percentile(latencies, 99),
                    "readings": readings,
                    "rows": rows,
                    "queries": len(latencies),
                    "load_rate": load_rate,
                },
            )
        )
    return figures


def _latencies(ctx: Context, pipeline: Pipeline, title: str, make: Any) -> tuple[list[float], int]:
    repeats = ctx.plan.query_repeats
    requests = [make() for _ in range(repeats + 5)]
    readings = 0
    for raw in requests[:5]:  # warm-up: statement caches, first page touches
        readings = _ask(pipeline, raw)[1]
    latencies = []
    with ctx.task(title, repeats) as advance:
        for raw in requests[5:]:
            latencies.append(_ask(pipeline, raw)[0])
            advance(1)
    return latencies, readings


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
