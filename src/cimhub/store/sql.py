"""Dialect-neutral SQL building blocks: list membership, insert-or-ignore, and readings
inside installation windows."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.dml import Insert

from cimhub.domain.installation import Window


def member_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Collection[Any], dialect: str
) -> ColumnElement[bool]:
    """``column IN (values)`` as ONE bound parameter, however many values there are.

    Keeps statements cacheable and clear of SQLite's and psycopg's parameter limits.
    """
    return _member(column, None, member_values(values, dialect), dialect)


def member_of_param(
    column: ColumnElement[Any] | QueryableAttribute[Any], name: str, dialect: str
) -> ColumnElement[bool]:
    """``member_of`` with its values given at execution as ``name``, converted by
    ``member_values``: a statement built once serves every set of values."""
    return _member(column, name, None, dialect)


def member_values(values: Collection[Any], dialect: str) -> Any:
    """The bound value ``member_of_param`` takes: an array, or JSON on SQLite."""
    return list(values) if dialect == "postgresql" else json.dumps(list(values))


def _member(
    column: ColumnElement[Any] | QueryableAttribute[Any], name: str | None, value: Any, dialect: str
) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column == any_(bindparam(name, value, type_=postgresql.ARRAY(column.type)))
    items = func.json_each(bindparam(name, value, type_=String))
    return column.in_(select(literal_column("value")).select_from(items))


#: The hub's reading types (global reference data), named without the ORM model.
_READING_TYPE_IDS = sql_table("reading_type", sql_column("id"))


def series_arrays(series: Sequence[tuple[int, int]]) -> dict[str, list[int]]:
    """(meter, reading type) pairs as the two parallel arrays a PostgreSQL probe per series
    unnests (``unnest(CAST(:meters AS integer[]), CAST(:types AS integer[]))``)."""
    return {"meters": [m for m, _ in series], "types": [rt for _, rt in series]}


def any_reading_type(
    reading_type_id: ColumnElement[Any] | QueryableAttribute[Any], dialect: str
) -> ColumnElement[bool]:
    """``reading_type_id`` is one of the hub's reading types: true of every reading, but
    it lets a key (…, meter, reading type, ts) end its index scan at the ts range.

    Without any condition on the reading type, a scan for a meter's period starts at the
    meter and reads every row of it in the partition (raw) or its whole history
    (validated), ts only filtering. One array of the few type ids, evaluated once by the
    statement, makes each (meter, type) a bounded range instead.
    """
    if dialect == "postgresql":
        ids = select(func.array_agg(_READING_TYPE_IDS.c.id)).scalar_subquery()
        return reading_type_id == any_(cast(ids, postgresql.ARRAY(Integer)))
    return reading_type_id.in_(select(_READING_TYPE_IDS.c.id))


def insert_ignore(table: Any, dialect: str, *key: str) -> Insert:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` into a model or table: a concurrent
    creator wins quietly."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(key))
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(key))


def within_windows(
    meter: ColumnElement[Any],
    ts: ColumnElement[Any],
    meter_ids: Collection[int],
    windows: Mapping[int, Sequence[Window]],
    dialect: str,
    *,
    interval: bool,
) -> ColumnElement[bool]:
    """Rows of ``meter_ids`` whose ``ts`` lies in one of their meter's windows (a meter
    without windows: every row); see ``Window.holds`` for the bounds."""
    free = [m for m in meter_ids if m not in windows]
    parts: list[ColumnElement[bool]] = [member_of(meter, free, dialect)] if free else []
    for meter_id, spans in windows.items():
        for w in spans:
            bounds = [meter == meter_id, ts > w.start if interval else ts >= w.start]
            if w.end is not None:
                bounds.append(ts <= w.end)
            parts.append(and_(*bounds))
    return or_(*parts) if parts else false()
