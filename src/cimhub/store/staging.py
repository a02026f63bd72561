"""Bulk writes of a batch of readings, per dialect: straight in, or through staging.

New readings (the common case: a HES pushes what it has not pushed before) go straight
into the reading table — ``COPY … FROM STDIN (FORMAT BINARY)`` on PostgreSQL,
``executemany`` on SQLite. A batch that may touch stored keys goes through a
temporary staging table instead, which the repository then merges set-wise. Both read
straight from the series' columns: no object per reading beyond the row tuple the
driver needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import repeat
from typing import Any

from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Connection

from cimhub.domain.reading import Series
from cimhub.store.row_security import write_rows

TABLE = "stage_reading"
COLUMNS = "meter_id, reading_type_id, ts, value, quality, source, message_log_id"
#: The temporary table lives as long as the pooled connection; emptied after every use.
#: Each staged reading names its message (source, log id): a batch may hold several.
CREATE = {
    "postgresql": f"CREATE TEMP TABLE IF NOT EXISTS {TABLE} (meter_id integer, "
    "reading_type_id integer, ts bigint, value double precision, quality text, source text, "
    "message_log_id bigint)",
    "sqlite": f"CREATE TEMP TABLE IF NOT EXISTS {TABLE} (meter_id INTEGER, "
    "reading_type_id INTEGER, ts INTEGER, value REAL, quality TEXT, source TEXT, "
    "message_log_id INTEGER)",
}
# TRUNCATE on PostgreSQL: autovacuum never visits temporary tables, so DELETE would
# leave them to bloat for the life of the connection.
CLEAR = {"postgresql": f"TRUNCATE {TABLE}", "sqlite": f"DELETE FROM {TABLE}"}
COPY_TYPES = ["int4", "int4", "int8", "float8", "text", "text", "int8"]
#: Every column of a reading table, in the order ``insert`` writes them.
READING_COLUMNS = (
    "tenant_id, meter_id, reading_type_id, ts, value, quality, version, source, "
    "message_log_id, received_at"
)
READING_TYPES = ["int4", "int4", "int4", "int8", "float8", "text", "int4", "text", "int8", "int8"]

Item = tuple[int, int, Series]
#: Where an item's readings came from: (source, message log id).
Origin = tuple[str, int | None]


def rows(items: Sequence[Item], origins: Sequence[Origin]) -> Iterator[tuple[Any, ...]]:
    """``COLUMNS`` for every reading of the batch."""
    for (meter_id, reading_type_id, series), (source, log_id) in zip(items, origins, strict=True):
        yield from zip(
            repeat(meter_id),
            repeat(reading_type_id),
            series.timestamps,
            series.values,
            series.qualities,
            repeat(source),
            repeat(log_id),
        )


def reading_rows(
    items: Sequence[Item], origins: Sequence[Origin], tenant_id: int, received_at: int
) -> Iterator[tuple[Any, ...]]:
    """Whole version-1 rows of a reading table (``READING_COLUMNS``) for the batch."""
    for (meter_id, reading_type_id, series), (source, log_id) in zip(items, origins, strict=True):
        yield from zip(
            repeat(tenant_id),
            repeat(meter_id),
            repeat(reading_type_id),
            series.timestamps,
            series.values,
            series.qualities,
            repeat(1),
            repeat(source),
            repeat(log_id),
            repeat(received_at),
        )


def load(connection: Connection, items: Sequence[Item], origins: Sequence[Origin]) -> None:
    """Fill the (empty) staging table with the batch, inside the current transaction."""
    connection.exec_driver_sql(CREATE[connection.dialect.name])
    write(connection, TABLE, COLUMNS, COPY_TYPES, rows(items, origins))


def insert(
    connection: Connection,
    table: str,
    batch: Iterator[tuple[Any, ...]],
    meanwhile: Callable[[], object] | None = None,
) -> None:
    """Write ``reading_rows`` straight into ``table``; a key already there raises the
    driver's unique-violation error (the caller runs this in a savepoint). ``meanwhile``:
    see ``write``."""
    write(connection, table, READING_COLUMNS, READING_TYPES, batch, meanwhile)


#: ``Connection.info`` key naming the table of a COPY still open while other work runs.
COPYING = "cimhub.copying"


def refuse_during_copy(connection: Connection, *_args: Any, **_kw: Any) -> None:
    """A ``before_cursor_execute`` hook: no statement while a COPY is open on the same
    connection (psycopg would wait on its own lock for ever)."""
    table = connection.info.get(COPYING)
    if table is not None:
        raise RuntimeError(f"a statement was sent while the COPY into {table} is open")


def write(
    connection: Connection,
    table: str,
    columns: str,
    types: list[str],
    batch: Iterator[tuple[Any, ...]],
    meanwhile: Callable[[], object] | None = None,
) -> None:
    """Rows into ``table``'s ``columns``: binary COPY on PostgreSQL, executemany on SQLite.

    ``meanwhile``: work that sends no statement, run while the server stores the rows.
    On PostgreSQL a thread of psycopg's sends them, and the COPY ends after the work:
    the server's share of the COPY (most of it: its index and its WAL) runs on another
    core beside the work instead of before it. SQLite runs it after the write."""
    driver: Any = connection.connection.driver_connection  # psycopg or sqlite3
    if connection.dialect.name != "postgresql":
        placeholders = ", ".join("?" * len(types))
        driver.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", batch)
        if meanwhile is not None:
            meanwhile()
        return
    sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor:
        writer = None if meanwhile is None else QueuedLibpqWriter(cursor)
        with cursor.copy(sql, writer=writer) as copy:
            copy.set_types(types)
            write_rows(copy, batch)
            if meanwhile is not None:
                connection.info[COPYING] = table
                try:
                    meanwhile()
                finally:
                    del connection.info[COPYING]


def clear(connection: Connection) -> None:
    connection.exec_driver_sql(CLEAR[connection.dialect.name])
