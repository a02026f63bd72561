"""The bulk fast path of saving readings: new data goes straight in; anything else merges.

New keys are written with one bulk write (COPY / executemany) in a savepoint; a batch
whose meters already have readings in its time range, or that loses a race to a
concurrent writer of the same keys, takes the staged merge — with the same counts and
versions either way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from cimhub.domain.reading import MeterRef, ReadingKind, SaveCounts, Series
from cimhub.store.database import Database
from cimhub.store.readings import ReadingRepository
from cimhub.store.staging import COPYING
from cimhub.store.vee_locks import lock_meters
from cimhub.testing.databases import postgres_database

INTERVAL = ReadingKind.INTERVAL
KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
JUNE = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())


def day(values: float, first: int = JUNE, count: int = 96) -> Series:
    ts = [first + 900 * (i + 1) for i in range(count)]
    return Series(MeterRef("m"), KWH, INTERVAL, ts, [values] * count, [""] * count)


def ids(db: Database, mrid: str = "m-1") -> tuple[int, int, int]:
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("discom-a")
        meter_id = uow.meters.resolve(tenant_id, [MeterRef(mrid)], auto_register=True)[0]
        assert meter_id is not None
        return tenant_id, meter_id, uow.reading_types.ids_for([KWH])[KWH]


def save(db: Database, tenant_id: int, meter_id: int, type_id: int, series: Series) -> SaveCounts:
    with db.unit_of_work(hub=True) as uow:
        return uow.readings.save(
            tenant_id,
            INTERVAL,
            [(meter_id, type_id, series)],
            source="hes-a",
            message_log_id=42,
            received_at=7,
        )


def stored(db: Database, tenant_id: int, meter_id: int) -> list[tuple[int, float, int, str, int]]:
    with db.engine.connect() as connection:
        return [
            tuple(row)  # type: ignore[misc]
            for row in connection.execute(
                text(
                    "SELECT ts, value, version, source, message_log_id FROM interval_reading "
                    "WHERE tenant_id = :t AND meter_id = :m ORDER BY ts"
                ),
                {"t": tenant_id, "m": meter_id},
            )
        ]


def test_new_readings_are_written_whole_with_their_provenance(db: Database) -> None:
    tenant_id, meter_id, type_id = ids(db)
    assert save(db, tenant_id, meter_id, type_id, day(1.5)) == SaveCounts(inserted=96)
    rows = stored(db, tenant_id, meter_id)
    assert len(rows) == 96
    assert {row[1:] for row in rows} == {(1.5, 1, "hes-a", 42)}


def test_new_keys_among_stored_ones_merge_without_versions(db: Database) -> None:
    tenant_id, meter_id, type_id = ids(db)
    save(db, tenant_id, meter_id, type_id, day(1.0, count=48))
    # The same day in full: 48 re-sent unchanged, 48 new; the range overlaps stored data.
    assert save(db, tenant_id, meter_id, type_id, day(1.0)) == SaveCounts(inserted=48, unchanged=48)
    assert [row[2] for row in stored(db, tenant_id, meter_id)] == [1] * 96


def test_another_meters_readings_do_not_divert_a_new_batch(db: Database) -> None:
    tenant_id, first, type_id = ids(db, "m-1")
    _, second, _ = ids(db, "m-2")
    save(db, tenant_id, first, type_id, day(1.0))
    assert save(db, tenant_id, second, type_id, day(2.0)) == SaveCounts(inserted=96)
    assert save(db, tenant_id, second, type_id, day(2.5)) == SaveCounts(changed=96)
    assert {row[1:3] for row in stored(db, tenant_id, second)} == {(2.5, 2)}


def test_keys_taken_between_the_check_and_the_write_roll_back_and_merge(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, meter_id, type_id = ids(db)
    save(db, tenant_id, meter_id, type_id, day(1.0))
    # As if another writer committed these keys right after the check said "none".
    monkeypatch.setattr(ReadingRepository, "_stored_any", lambda *_: False)
    assert save(db, tenant_id, meter_id, type_id, day(1.0, count=100)) == SaveCounts(
        inserted=4, unchanged=96
    )
    assert save(db, tenant_id, meter_id, type_id, day(2.0)) == SaveCounts(changed=96)
    assert len(stored(db, tenant_id, meter_id)) == 100


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.mark.postgres
def test_a_writer_losing_the_race_for_new_keys_merges_instead(postgres_url: str) -> None:
    db = Database(postgres_url)
    db.upgrade()
    tenant_id, meter_id, type_id = ids(db)
    _, other, _ = ids(db, "m-2")
    save(db, tenant_id, other, type_id, day(9.0))  # the month's partition, committed
    with ThreadPoolExecutor(max_workers=1) as pool:
        with db.unit_of_work(hub=True) as uow:
            first = uow.readings.save(
                tenant_id,
                INTERVAL,
                [(meter_id, type_id, day(1.0))],
                source="hes-a",
                message_log_id=1,
                received_at=1,
            )
            # Uncommitted: the racer sees no stored key, bulk-writes, waits on our keys,
            # then meets them committed — its savepoint rolls back and it merges instead.
            racing = pool.submit(save, db, tenant_id, meter_id, type_id, day(3.0))
            wait_for_a_lock_wait(db)
        assert first == SaveCounts(inserted=96)
        assert racing.result(timeout=30) == SaveCounts(changed=96)
    assert {row[1:3] for row in stored(db, tenant_id, meter_id)} == {(3.0, 2)}
    with db.unit_of_work(hub=True) as uow:
        history = uow.readings.versions(tenant_id, INTERVAL, meter_id, type_id, JUNE + 900)
    assert [(v[0], v[1]) for v in history] == [(1, 1.0), (2, 3.0)]
    db.dispose()


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
    raise AssertionError("the racing unit of work never waited for our uncommitted keys")


# Work given to the save (``meanwhile``): ingest runs VEE's rules while the server stores
# the raw rows. It runs once on every path; inside the COPY only where nothing else may
# need the connection (new rows, no savepoint).


def save_with(
    db: Database, meter_id: int, series: Series, *, locked: bool
) -> tuple[SaveCounts, list[str | None]]:
    """Save one series with work that notes, each time it runs, the COPY open then."""
    tenant_id, _, type_id = ids(db)
    runs: list[str | None] = []
    with db.unit_of_work(hub=True) as uow:
        if locked:  # as ingest holds them with VEE on: no savepoint guards the write
            lock_meters(uow, [meter_id])
        connection = uow.session.connection()
        counts = uow.readings.save_from(
            tenant_id,
            INTERVAL,
            [(meter_id, type_id, series)],
            [("hes-a", 42)],
            received_at=7,
            meanwhile=lambda: runs.append(connection.info.get(COPYING)),
        )
    return sum(counts.values(), SaveCounts()), runs


def test_work_given_to_a_save_of_new_rows_runs_once_as_they_are_written(db: Database) -> None:
    _, meter_id, _ = ids(db)
    counts, runs = save_with(db, meter_id, day(1.5), locked=True)
    assert counts == SaveCounts(inserted=96)
    # PostgreSQL: the COPY is still open while the work runs; SQLite writes first.
    assert runs == (["interval_reading"] if db.dialect == "postgresql" else [None])
    assert len(stored(db, *ids(db)[:2])) == 96


def test_work_given_to_a_save_runs_once_after_a_merge_or_a_guarded_write(db: Database) -> None:
    _, meter_id, _ = ids(db)
    _, other, _ = ids(db, "m-2")
    # Stored keys in range: the staged merge, then the work.
    save_with(db, meter_id, day(1.0, count=48), locked=True)
    assert save_with(db, meter_id, day(2.0), locked=True) == (
        SaveCounts(inserted=48, changed=48),
        [None],
    )
    # New rows, but the meter's lock not held: a savepoint guards the write, then the work.
    assert save_with(db, other, day(1.0), locked=False) == (SaveCounts(inserted=96), [None])
    # Nothing to store: the work still runs.
    assert save_with(db, other, day(1.0, count=0), locked=True) == (SaveCounts(), [None])


@pytest.mark.postgres
def test_a_statement_sent_while_the_copy_is_open_fails_at_once_and_stores_nothing(
    postgres_url: str,
) -> None:
    db = Database(postgres_url)
    db.upgrade()
    tenant_id, meter_id, type_id = ids(db)
    refused = pytest.raises(RuntimeError, match="COPY into interval_reading is open")
    with refused, db.unit_of_work(hub=True) as uow:
        lock_meters(uow, [meter_id])
        uow.readings.save_from(
            tenant_id,
            INTERVAL,
            [(meter_id, type_id, day(1.0))],
            [("hes-a", 42)],
            received_at=7,
            meanwhile=lambda: uow.session.execute(text("SELECT 1")),
        )
    assert stored(db, tenant_id, meter_id) == []
    assert save(db, tenant_id, meter_id, type_id, day(1.0)) == SaveCounts(inserted=96)
    db.dispose()
