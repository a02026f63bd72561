"""A migrated, empty database for billing tests (both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cimhub.store.database import Database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()
