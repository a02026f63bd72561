"""PostgreSQL connections plan every statement for its values and keep the URL's options;
the message log's bytes are compressed with lz4."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from cimhub.store.database import Database
from cimhub.testing.databases import postgres_database

pytestmark = pytest.mark.postgres


def _settings(url: str) -> tuple[str, str]:
    database = Database(url)
    try:
        with database.engine.connect() as connection:
            mode = connection.execute(text("SHOW plan_cache_mode")).scalar_one()
            timeout = connection.execute(text("SHOW statement_timeout")).scalar_one()
            return mode, timeout
    finally:
        database.dispose()


def test_prepared_statements_are_planned_for_their_values() -> None:
    # psycopg prepares what runs often; a generic plan of the partitioned readings'
    # probes scanned every partition (BENCHMARKS.md, round 6)
    with postgres_database() as url:
        assert _settings(url)[0] == "force_custom_plan"


def test_the_urls_own_server_options_are_kept() -> None:
    with postgres_database() as url:
        mode, timeout = _settings(url + "?options=-c%20statement_timeout%3D4000")
    assert (mode, timeout) == ("force_custom_plan", "4s")


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
