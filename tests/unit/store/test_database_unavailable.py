"""Connection failures surface as StorageUnavailableError, and ping() as False."""

from __future__ import annotations

from pathlib import Path

import pytest

from cimhub.errors import StorageUnavailableError
from cimhub.store.database import Database

UNREACHABLE = [
    "postgresql://postgres@127.0.0.1:9/nowhere",  # discard port: connection refused
    "sqlite:////nonexistent-dir/for/cimhub/test.db",
]


@pytest.mark.parametrize("url", UNREACHABLE)
def test_ping_is_false(url: str) -> None:
    db = Database(url)
    assert db.ping() is False
    db.dispose()


@pytest.mark.parametrize("url", UNREACHABLE)
def test_unit_of_work_raises_storage_unavailable(url: str) -> None:
    db = Database(url)
    with pytest.raises(StorageUnavailableError) as caught, db.unit_of_work(hub=True) as uow:
        uow.tenants.ensure("t")
    assert caught.value.code == "5.1"
    assert caught.value.__cause__ is not None
    db.dispose()


@pytest.mark.parametrize("url", UNREACHABLE)
def test_upgrade_raises_storage_unavailable(url: str) -> None:
    with pytest.raises(StorageUnavailableError):
        Database(url).upgrade()


def test_dialect_and_driver_follow_the_url(tmp_path: Path) -> None:
    assert Database(f"sqlite:///{tmp_path / 'x.db'}").dialect == "sqlite"
    db = Database("postgresql://u@h/d")
    assert db.dialect == "postgresql"
    assert db.url.startswith("postgresql+psycopg://")
