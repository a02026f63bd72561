"""Bulk load of a batch of readings into a temporary staging table, per dialect.

PostgreSQL gets ``COPY … FROM STDIN (FORMAT BINARY)`` through the raw psycopg connection of
the unit of work (the fastest load there is); SQLite gets ``executemany`` on the raw
sqlite3 connection. Both read straight from the series' columns: no object per reading
beyond the row tuple the driver needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

from sqlalchemy import Connection

from cimhub.domain.reading import Series

TABLE = "stage_reading"
COLUMNS = "meter_id, reading_type_id, ts, value, quality"
#: The temporary table lives as long as the pooled connection; emptied after every use.
CREATE = {
    "postgresql": f"CREATE TEMP TABLE IF NOT EXISTS {TABLE} (meter_id integer, "
    "reading_type_id integer, ts bigint, value double precision, quality text)",
    "sqlite": f"CREATE TEMP TABLE IF NOT EXISTS {TABLE} (meter_id INTEGER, "
    "reading_type_id INTEGER, ts INTEGER, value REAL, quality TEXT)",
}
# TRUNCATE on PostgreSQL: autovacuum never visits temporary tables, so DELETE would
# leave them to bloat for the life of the connection.
CLEAR = {"postgresql": f"TRUNCATE {TABLE}", "sqlite": f"DELETE FROM {TABLE}"}
COPY = f"COPY {TABLE} ({COLUMNS}) FROM STDIN (FORMAT BINARY)"
COPY_TYPES = ["int4", "int4", "int8", "float8", "text"]

Item = tuple[int, int, Series]


def rows(items: Sequence[Item]) -> Iterator[tuple[Any, ...]]:
    """(meter_id, reading_type_id, ts, value, quality) for every reading of the batch."""
    for meter_id, reading_type_id, series in items:
        yield from zip(
            repeat(meter_id),
            repeat(reading_type_id),
            series.timestamps,
            series.values,
            series.qualities,
        )


def load(connection: Connection, items: Sequence[Item]) -> None:
    """Fill the (empty) staging table with the batch, inside the current transaction."""
    dialect = connection.dialect.name
    connection.exec_driver_sql(CREATE[dialect])
    driver: Any = connection.connection.driver_connection  # psycopg or sqlite3
    if dialect == "postgresql":
        with driver.cursor() as cursor, cursor.copy(COPY) as copy:
            copy.set_types(COPY_TYPES)
            for row in rows(items):
                copy.write_row(row)
    else:
        placeholders = ", ".join("?" * len(COPY_TYPES))
        driver.executemany(f"INSERT INTO {TABLE} ({COLUMNS}) VALUES ({placeholders})", rows(items))


def clear(connection: Connection) -> None:
    connection.exec_driver_sql(CLEAR[connection.dialect.name])
