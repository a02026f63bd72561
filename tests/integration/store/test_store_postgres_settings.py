"""On PostgreSQL a unit of work plans every statement for its values, and the message
log's bytes are compressed with lz4."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from cimhub.store.database import Database
from cimhub.testing.databases import postgres_database

pytestmark = pytest.mark.postgres


def _plan_cache_modes(url: str) -> tuple[str, str]:
    """plan_cache_mode inside a unit of work, then on the same pooled connection after it."""
    database = Database(url)
    try:
        with database.unit_of_work(hub=True) as uow:
            inside = uow.session.execute(text("SHOW plan_cache_mode")).scalar_one()
        with database.engine.connect() as connection:
            after = connection.execute(text("SHOW plan_cache_mode")).scalar_one()
        return inside, after
    finally:
        database.dispose()


def test_a_unit_of_works_statements_are_planned_for_their_values() -> None:
    # psycopg prepares what runs often; a generic plan of the partitioned readings'
    # probes scanned every partition (BENCHMARKS.md, round 6). Per transaction: it holds
    # behind a connection pooler and leaves the connection as it found it.
    with postgres_database() as url:
        assert _plan_cache_modes(url) == ("force_custom_plan", "auto")


def test_message_bytes_are_compressed_with_lz4() -> None:
    # storing a batch's raw bytes took half as long as with pglz (BENCHMARKS.md, round 6)
    with postgres_database() as url:
        database = Database(url)
        try:
            database.upgrade()
            with database.engine.connect() as connection:
                methods = connection.execute(
                    text(
                        "SELECT attname, attcompression FROM pg_attribute "
                        "WHERE attrelid = 'message_log'::regclass AND attname IN ('raw', 'reply')"
                    )
                ).all()
        finally:
            database.dispose()
    assert dict(methods) == {"raw": "l", "reply": "l"}
