"""Units of work running at once: threads sharing a Database, racing partition creators."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from cimhub.domain.reading import MeterRef, ReadingKind, SaveCounts, Series
from cimhub.store.database import Database
from cimhub.testing.databases import postgres_database

INTERVAL = ReadingKind.INTERVAL
KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
MAY = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp())


def save_day(db: Database, tenant_code: str, mrid: str) -> SaveCounts:
    ts = [MAY + 900 * (i + 1) for i in range(96)]
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(tenant_code)
        meter_id = uow.meters.resolve(tenant_id, [MeterRef(mrid)], auto_register=True)[0]
        rt = uow.reading_types.ids_for([KWH])[KWH]
        assert meter_id is not None
        series = Series(MeterRef(mrid), KWH, INTERVAL, ts, [1.0] * 96, [""] * 96)
        return uow.readings.save(
            tenant_id,
            INTERVAL,
            [(meter_id, rt, series)],
            source="",
            message_log_id=None,
            received_at=0,
        )


def test_threads_share_one_database(db: Database) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        # every thread registers the same tenant and reading type, and its own meters
        futures = [pool.submit(save_day, db, "discom-a", f"m-{i}") for i in range(16)]
        results = [f.result(timeout=60) for f in futures]
    assert results == [SaveCounts(inserted=96)] * 16
    with db.unit_of_work(hub=True) as uow:
        assert uow.readings.count(uow.tenants.ensure("discom-a"), INTERVAL) == 16 * 96


@pytest.mark.postgres
def test_a_concurrent_partition_creator_is_tolerated(postgres_url: str) -> None:
    first, second = Database(postgres_url), Database(postgres_url)  # separate caches
    first.upgrade()
    with first.unit_of_work(hub=True) as uow:  # all the racing saves need, but the partition
        tenant_id = uow.tenants.ensure("discom-a")
        meter_id = uow.meters.resolve(tenant_id, [MeterRef("m-1")], auto_register=True)[0]
        rt = uow.reading_types.ids_for([KWH])[KWH]
        assert meter_id is not None
    with ThreadPoolExecutor(max_workers=1) as pool:
        with first.unit_of_work(hub=True) as uow:
            series = Series(MeterRef("m-1"), KWH, INTERVAL, [MAY + 900], [1.0], [""])
            uow.readings.save(
                tenant_id,
                INTERVAL,
                [(meter_id, rt, series)],
                source="",
                message_log_id=None,
                received_at=0,
            )
            # the partition exists, uncommitted: the other creator must wait for it
            racing = pool.submit(save_day, second, "discom-a", "m-2")
            wait_for_a_lock_wait(first)
        assert racing.result(timeout=30) == SaveCounts(inserted=96)
    with second.unit_of_work(hub=True) as uow:
        assert uow.readings.count(tenant_id, INTERVAL) == 97
    first.dispose()
    second.dispose()


def wait_for_a_lock_wait(db: Database, within: float = 10.0) -> None:
    """Poll (bounded) until some session of this database waits for a lock."""
    deadline = time.monotonic() + within
    with db.engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            connection.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the racing unit of work never waited for the partition lock")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url
