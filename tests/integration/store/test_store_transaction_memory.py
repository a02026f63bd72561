"""What a transaction (or the store) remembers so as not to ask the database twice: the
meters whose VEE locks it holds, tenants' codes, the billing configuration in force —
and that what it remembers never outlives the truth (a savepoint rolled back, a new
configuration put)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from sqlalchemy import event

from cimhub.domain.reading import MeterRef, ReadingKind, Series
from cimhub.errors import StorageUnavailableError, TechnicalError
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.database import Database
from cimhub.store.unit_of_work import UnitOfWork
from cimhub.store.vee_locks import holds, lock_meters
from cimhub.testing.databases import postgres_database, sqlite_url

KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
JUNE = 1_717_200_000


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements the database's engine runs inside the block."""
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def pg() -> Iterator[Database]:
    """A migrated PostgreSQL database (locks are PostgreSQL's alone)."""
    with postgres_database() as url:
        database = Database(url)
        try:
            database.upgrade()
            yield database
        finally:
            database.dispose()


@pytest.fixture
def pg_tenant(pg: Database) -> int:
    with pg.unit_of_work(hub=True) as uow:
        return uow.tenants.ensure("discom-a")


def meters(uow: UnitOfWork, tenant_id: int, *mrids: str) -> list[int]:
    found = uow.meters.resolve(tenant_id, [MeterRef(m) for m in mrids], auto_register=True)
    return [m for m in found if m is not None]


@pytest.mark.postgres
def test_a_transaction_takes_a_meters_lock_once(pg: Database, pg_tenant: int) -> None:
    db, tenant_id = pg, pg_tenant
    with db.unit_of_work(tenant_id) as uow:
        one, two = meters(uow, tenant_id, "m-1", "m-2")
        with statements(db) as seen:
            lock_meters(uow, [one])
            lock_meters(uow, [one])  # held: no round trip
            lock_meters(uow, [one, two])  # only the new one
        locks = [s for s in seen if "pg_advisory_xact_lock" in s]
        assert len(locks) == 2
        assert holds(uow, [one, two]) and not holds(uow, [one, two, two + 1])
    with db.unit_of_work(tenant_id) as uow:  # a new transaction holds nothing
        assert not holds(uow, [one])


@pytest.mark.postgres
def test_a_lock_taken_in_a_rolled_back_savepoint_is_not_remembered(
    pg: Database, pg_tenant: int
) -> None:
    db, tenant_id = pg, pg_tenant
    with db.unit_of_work(tenant_id) as uow:
        (meter,) = meters(uow, tenant_id, "m-1")
        savepoint = uow.session.begin_nested()
        lock_meters(uow, [meter])
        savepoint.rollback()  # releases the lock
        assert not holds(uow, [meter])
        with statements(db) as seen:
            lock_meters(uow, [meter])
        assert any("pg_advisory_xact_lock" in s for s in seen)
        assert holds(uow, [meter])


def test_sqlite_holds_no_locks(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path))
    db.upgrade()
    with db.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure("discom-a")
    with db.unit_of_work(tenant_id) as uow:
        (meter,) = meters(uow, tenant_id, "m-1")
        lock_meters(uow, [meter])
        assert not holds(uow, [meter])  # one writer at a time: savepoints stay
    db.dispose()


@pytest.mark.postgres
def test_new_interval_readings_of_locked_meters_need_no_savepoint(
    pg: Database, pg_tenant: int
) -> None:
    """Locked, no other transaction can store these keys: the bulk write goes straight
    in. Unlocked, it keeps its savepoint against losing a race."""
    db, tenant_id = pg, pg_tenant
    stamps = [JUNE + 900 * (i + 1) for i in range(96)]
    for day, locked in ((1, False), (2, True), (3, False)):  # day 1 makes the partition
        ts = [t + day * 86_400 for t in stamps]
        with db.unit_of_work(tenant_id) as uow:
            (meter,) = meters(uow, tenant_id, "m-1")
            type_id = uow.reading_types.ids_for([KWH])[KWH]
            if locked:
                lock_meters(uow, [meter])
            series = Series(MeterRef("m-1"), KWH, ReadingKind.INTERVAL, ts, [1.0] * 96, [""] * 96)
            with statements(db) as seen:
                counts = uow.readings.save(
                    tenant_id,
                    ReadingKind.INTERVAL,
                    [(meter, type_id, series)],
                    source="hes",
                    message_log_id=None,
                    received_at=1,
                )
        assert counts.inserted == 96
        assert any(s.startswith("SAVEPOINT") for s in seen) is not locked


def test_a_tenants_code_is_read_once(db: Database, tenant_id: int) -> None:
    with db.unit_of_work(tenant_id) as uow:
        assert uow.tenants.code_of(tenant_id) == "discom-a"
    with db.unit_of_work(tenant_id) as uow, statements(db) as seen:
        assert uow.tenants.code_of(tenant_id) == "discom-a"
    assert not [s for s in seen if "tenant" in s.split("FROM")[-1]]


def test_an_unknown_tenant_id_has_no_code(db: Database, tenant_id: int) -> None:
    with db.unit_of_work(hub=True) as uow, pytest.raises(Exception, match="unknown tenant"):
        uow.tenants.code_of(tenant_id + 1000)


def test_the_billing_configuration_is_read_once_a_transaction_and_anew_after_a_put(
    db: Database, tenant_id: int
) -> None:
    with db.unit_of_work(tenant_id) as uow:
        configs = BillingConfigs(uow)
        with statements(db) as seen:
            assert configs.current(tenant_id).cycle_day == 1
            assert configs.current(tenant_id).cycle_day == 1
        assert len([s for s in seen if "billing_config" in s]) == 1
        configs.put(tenant_id, {"cycle_day": 5})
        assert configs.current(tenant_id).cycle_day == 5
    with db.unit_of_work(tenant_id) as uow:
        assert BillingConfigs(uow).current(tenant_id).cycle_day == 5


@pytest.mark.postgres
def test_a_transaction_too_large_for_the_lock_table_is_a_technical_error_not_an_outage(
    pg: Database, pg_tenant: int
) -> None:
    """PostgreSQL's "out of shared memory" says this transaction asked too much, not that
    the store is down: waiting for the store and retrying the same work would never end."""
    with pytest.raises(TechnicalError) as raised, pg.unit_of_work(pg_tenant) as uow:
        lock_meters(uow, range(1, 200_001))
    assert not isinstance(raised.value, StorageUnavailableError)
    assert "too large" in raised.value.reason
    with pg.unit_of_work(pg_tenant) as uow:  # the store is fine
        lock_meters(uow, range(1, 1_001))
        assert holds(uow, [1, 1_000])


@pytest.mark.parametrize("fails", [False, True], ids=["committed", "rolled back"])
def test_a_transaction_lets_go_of_what_it_held_when_it_ends(
    db: Database, tenant_id: int, fails: bool
) -> None:
    """A unit of work's repositories point back at it; unless it lets go at its end, it
    and everything it remembers (VEE's rows of a whole message) wait for the cyclic
    collector instead of being freed as the block ends."""
    gc.collect()
    gc.disable()
    try:
        with suppress(LookupError), db.unit_of_work(tenant_id) as uow:
            meters(uow, tenant_id, "m-1")
            lock_meters(uow, [1])
            BillingConfigs(uow).current(tenant_id)  # remembered for the transaction
            held = weakref.ref(uow)
            if fails:
                raise LookupError("the handler failed")
        del uow
        assert held() is None
    finally:
        gc.enable()
