"""Dialect-neutral SQL building blocks: list membership and insert-or-ignore."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.dml import Insert


def member_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Collection[Any], dialect: str
) -> ColumnElement[bool]:
    """``column IN (values)`` as ONE bound parameter, however many values there are.

    Keeps statements cacheable and clear of SQLite's and psycopg's parameter limits.
    """
    if dialect == "postgresql":
        array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == any_(array)
    items = func.json_each(bindparam(None, json.dumps(list(values))))
    return column.in_(select(literal_column("value")).select_from(items))


def insert_ignore(table: Any, dialect: str, *key: str) -> Insert:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` into a model or table: a concurrent
    creator wins quietly."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(key))
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(key))
