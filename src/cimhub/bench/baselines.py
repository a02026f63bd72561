"""Baselines on the same bytes and rows: what the pipeline's parts cost alone.

* parse + validate: the hardened lxml parser and the compiled XSDs, nothing else;
* store alone: the same rows, one transaction per message, PostgreSQL binary COPY (or
  SQLite executemany) straight into ``interval_reading`` — the floor of any store;
* naive integrator: what a Python integrator would otherwise write — xmlschema
  decoding and SQLAlchemy ORM inserts — for a few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine

from cimhub.bench import naive as naive_integrator
from cimhub.bench.context import TENANT, Context
from cimhub.bench.ingest import TRANSPORT
from cimhub.bench.repeats import median, run_all, spread
from cimhub.bench.scenario import Figure
from cimhub.bench.traffic import Traffic
from cimhub.mappings.meter_readings import read_meter_readings
from cimhub.message import parser, schema
from cimhub.message.envelope import read_envelope
from cimhub.store import partitions
from cimhub.store.database import Database
from cimhub.store.staging import READING_COLUMNS as COLUMNS
from cimhub.store.staging import READING_TYPES

Row = tuple[Any, ...]
COPY = f"COPY interval_reading ({COLUMNS}) FROM STDIN (FORMAT BINARY)"


def parse_validate(ctx: Context) -> list[Figure]:
    """The same bytes through parse + XSD validation; reported beside every backend."""
    schema.compiled_schema()
    limits = parser.Limits()

    def one(size: int, label: str) -> float:
        traffic = ctx.traffic(size)
        title = f"baseline parse+validate {traffic.label} {label}".strip()
        with ctx.task(title, traffic.readings) as advance:
            started = time.perf_counter()
            for raw in traffic.messages:
                schema.validate(parser.parse(raw, limits))
                advance(size * traffic.intervals)
            return traffic.readings / (time.perf_counter() - started)

    return [
        Figure("ingest", (backend, ctx.traffic(size).label), _median("parse_validate", done))
        for size, done in run_all(ctx.plan.sizes, ctx.plan.repeats, one).items()
        for backend in ctx.backends
    ]


def store_alone(ctx: Context) -> list[Figure]:
    """The same rows, message by message, each in its own transaction."""
    batches = {size: list(_rows(ctx.traffic(size))) for size in ctx.plan.sizes}

    def one(case: tuple[str, int], label: str) -> float:
        backend, size = case
        traffic = ctx.traffic(size)
        with ctx.database(backend) as url:
            database = ctx.store(url)
            _prepare(database, batches[size])
            title = f"baseline store {backend} {traffic.label} {label}".strip()
            with ctx.task(title, traffic.readings) as advance:
                return traffic.readings / _load(database.engine, batches[size], advance)

    cases = [(backend, size) for backend in ctx.backends for size in ctx.plan.sizes]
    return [
        Figure("ingest", (backend, ctx.traffic(size).label), _median("store_alone", done))
        for (backend, size), done in run_all(cases, ctx.plan.repeats, one).items()
    ]


def _median(name: str, rates: list[float]) -> dict[str, float]:
    """``name``: the median of the runs' rates, their spread beside it."""
    return {name: median(rates, float)} | spread(name, rates)


def naive(ctx: Context) -> list[Figure]:
    figures = []
    for backend in ctx.backends:
        for size in ctx.plan.sizes:
            traffic = ctx.traffic(size)
            if size > ctx.plan.naive_max_size:
                continue
            with ctx.database(backend) as url:
                database = ctx.store(url)
                ends = [traffic.messages[0], traffic.messages[-1]]  # the partitions of all
                _prepare(database, list(_rows(Traffic(size, traffic.intervals, [], ends))))
                budget = ctx.plan.naive_seconds
                with ctx.task(f"baseline naive {backend} {traffic.label}", budget) as advance:
                    readings, elapsed = naive_integrator.ingest(
                        database.engine, traffic.messages, budget, advance
                    )
            figures.append(
                Figure("ingest", (backend, traffic.label), {"naive": readings / elapsed})
            )
    return figures


def _rows(traffic: Traffic) -> Iterator[list[Row]]:
    """Each message's interval_reading rows, as the pipeline stores them (untimed)."""
    meter_ids: dict[str | None, int] = {}
    for log_id, raw in enumerate(traffic.messages, 1):
        envelope = read_envelope(parser.parse(raw))
        assert envelope.payload is not None
        items, errors = read_meter_readings(envelope.payload)
        assert not errors, errors
        rows: list[Row] = []
        for item in items:
            meter_id = meter_ids.setdefault(item.meter.mrid, len(meter_ids) + 1)
            for s in item.series:
                rows += [
                    (1, meter_id, 1, ts, value, quality, 1, TRANSPORT, log_id, ts)
                    for ts, value, quality in zip(s.timestamps, s.values, s.qualities, strict=True)
                ]
        yield rows


def _prepare(database: Database, batches: list[list[Row]]) -> None:
    """The partitions the rows need (PostgreSQL), created before timing."""
    with database.unit_of_work(hub=True) as uow:
        uow.tenants.ensure(TENANT)
        if database.dialect == "postgresql":
            stamps = [row[3] for rows in batches for row in (rows[0], rows[-1])]
            partitions.ensure_months(uow, min(stamps), max(stamps))


def _load(engine: Engine, batches: list[list[Row]], advance: Any) -> float:
    connection = engine.raw_connection()
    try:
        driver: Any = connection.driver_connection
        started = time.perf_counter()
        for rows in batches:
            if engine.dialect.name == "postgresql":
                with driver.cursor() as cursor, cursor.copy(COPY) as copy:
                    copy.set_types(READING_TYPES)
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(READING_TYPES))
                driver.execute("BEGIN")
                driver.executemany(
                    f"INSERT INTO interval_reading ({COLUMNS}) VALUES ({marks})", rows
                )
            driver.commit() if engine.dialect.name == "postgresql" else driver.execute("COMMIT")
            advance(len(rows))
        return time.perf_counter() - started
    finally:
        connection.close()
