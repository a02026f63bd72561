"""No connection outlives its owner: a hub that fails to start and a command that fails
leave no backend on the PostgreSQL server (a pooled connection left behind is closed
only by the garbage collector, with a ResourceWarning in whichever test runs then)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from cimhub.app import Hub
from cimhub.cli import main
from cimhub.settings import Settings
from cimhub.testing.databases import POSTGRES_ADMIN_URL, postgres_database
from cimhub.testing.waiting import wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def backends(url: str) -> int:
    """Sessions connected to the database at ``url`` (the admin's own is elsewhere)."""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
            (make_url(url).database,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_hub_that_fails_to_start_closes_its_connections(
    postgres_url: str, tmp_path: Path
) -> None:
    broken = tmp_path / "subscriptions.json"
    broken.write_text("not JSON")  # read by start_serving, after the migrations ran
    settings = Settings(database_url=postgres_url, subscriptions_file=str(broken))  # type: ignore[arg-type]
    with pytest.raises(ValueError) as failed:
        Hub.build(settings)
    assert failed.value is not None  # its traceback (and the hub's frames) still held
    wait_until(lambda: backends(postgres_url) == 0, 10)


def test_a_command_that_fails_closes_its_connections(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIMHUB_DATABASE_URL", postgres_url)
    with pytest.raises(SystemExit, match="unknown meter") as failed:
        main(["vee", "rerun", "--meter", "M-NONE", "--start", "2024-05-01",
              "--end", "2024-05-02"])  # fmt: skip
    assert failed.value is not None  # its traceback (and the command's frames) still held
    wait_until(lambda: backends(postgres_url) == 0, 10)
