"""Fixtures of the store tests: a migrated Database on each backend, a tenant in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cimhub.store.database import Database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated, empty database (SQLite file or fresh PostgreSQL database)."""
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def tenant_id(db: Database) -> int:
    with db.unit_of_work(hub=True) as uow:
        return uow.tenants.ensure("discom-a", "DISCOM A")
