"""Set-based writes of many master-data rows: COPY on PostgreSQL, executemany on SQLite.

psycopg's executemany still sends one statement per row; COPY sends the rows as one
stream (reference/performance.md), which is what makes a 60 000-meter import take
seconds. Updates are COPYed into a temporary table and applied with one UPDATE … FROM.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, insert, update

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

_names = count()


def insert_rows(
    uow: UnitOfWork, table: Table, rows: Sequence[dict[str, Any]], *, ignore: Sequence[str] = ()
) -> None:
    """INSERT every row (all rows carry the same keys); with ``ignore`` (a unique key),
    rows that clash with a stored one are skipped (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    if uow.dialect != "postgresql":
        stmt = insert(table)
        if ignore:
            stmt = stmt.prefix_with("OR IGNORE")
        uow.session.execute(stmt, list(rows))
        return
    columns = list(rows[0])
    if not ignore:
        _copy(uow, table.name, columns, rows)
        return
    stage = _stage(uow, table, columns, rows)
    cols = _listed(columns)
    uow.session.connection().exec_driver_sql(
        f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {stage} "
        f"ON CONFLICT ({_listed(ignore)}) DO NOTHING"
    )
    uow.session.connection().exec_driver_sql(f"DROP TABLE {stage}")


def update_rows(uow: UnitOfWork, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE each row by its ``id`` (all rows carry the same keys, ``id`` among them)."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != "id"]
    if uow.dialect != "postgresql":
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in columns})
        )
        uow.session.execute(stmt, [{f"b_{k}": v for k, v in row.items()} for row in rows])
        return
    stage = _stage(uow, table, ["id", *columns], rows)
    sets = ", ".join(f'"{c}" = s."{c}"' for c in columns)
    uow.session.connection().exec_driver_sql(
        f"UPDATE {table.name} AS t SET {sets} FROM {stage} AS s WHERE t.id = s.id"
    )
    uow.session.connection().exec_driver_sql(f"DROP TABLE {stage}")


def _stage(
    uow: UnitOfWork, table: Table, columns: list[str], rows: Sequence[dict[str, Any]]
) -> str:
    """A temporary copy of ``columns`` of ``table`` holding ``rows``; returns its name."""
    name = f"bulk_{table.name}_{next(_names)}"
    uow.session.connection().exec_driver_sql(
        f"CREATE TEMP TABLE {name} ON COMMIT DROP AS "
        f"SELECT {_listed(columns)} FROM {table.name} WITH NO DATA"
    )
    _copy(uow, name, columns, rows)
    return name


def _copy(uow: UnitOfWork, target: str, columns: list[str], rows: Sequence[dict[str, Any]]) -> None:
    driver: Any = uow.session.connection().connection.driver_connection
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {target} ({_listed(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _listed(columns: Sequence[str]) -> str:
    """Column names quoted: some are SQL keywords (dt_outage's ``end``)."""
    return ", ".join(f'"{c}"' for c in columns)
