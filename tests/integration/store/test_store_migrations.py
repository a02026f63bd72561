"""Migrations: idempotent, and interval_reading partitioned by range on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from cimhub.domain.reading import MeterRef, ReadingKind, Series
from cimhub.store.database import Database, migration_heads
from cimhub.store.models import Base
from cimhub.store.partitions import is_partition

TABLES = {
    "tenant",
    "meter",
    "meter_name",
    "reading_type",
    "interval_reading",
    "interval_reading_version",
    "register_reading",
    "register_reading_version",
    "message_log",
    "usage_point_link",
    "alembic_version",
}


def test_upgrade_twice_is_idempotent(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    db.upgrade()
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        applied = {v for (v,) in rows}
        assert applied == migration_heads()
        assert set(inspect(connection).get_table_names()) >= TABLES
    db.dispose()


def test_interval_reading_is_partitioned_by_range_on_postgresql(db: Database) -> None:
    with db.engine.connect() as connection:
        if db.dialect == "postgresql":
            strategy = connection.execute(
                text(
                    "SELECT partstrat FROM pg_partitioned_table "
                    "WHERE partrelid = 'interval_reading'::regclass"
                )
            ).scalar_one()
            assert strategy == "r"
            partitions = connection.execute(
                text(
                    "SELECT count(*) FROM pg_inherits "
                    "WHERE inhparent = 'interval_reading'::regclass"
                )
            ).scalar_one()
            assert partitions == 0  # no default partition: made on demand
        else:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_message_log_key_index_is_not_unique(db: Database) -> None:
    with db.engine.connect() as connection:
        indexes = {i["name"]: i for i in inspect(connection).get_indexes("message_log")}
    index = indexes["ix_message_log_key"]
    assert index["column_names"] == ["tenant_id", "source", "message_key"]
    assert not index["unique"]


def test_ping(db: Database) -> None:
    assert db.ping() is True


def _import_every_store_module() -> None:
    """Tables are declared across the store's modules: load them all, so Base.metadata
    holds every one whichever tests ran before."""
    import importlib
    import pkgutil

    import cimhub.store

    for module in pkgutil.iter_modules(cimhub.store.__path__, "cimhub.store."):
        if not module.name.endswith(".migrations"):
            importlib.import_module(module.name)


def test_models_and_migrations_agree(db: Database) -> None:
    """No schema drift: autogenerate finds nothing to do, partitions included."""
    _import_every_store_module()
    with db.unit_of_work(hub=True) as uow:  # creates a partition on PostgreSQL
        uow.readings.save(
            uow.tenants.ensure("t"),
            ReadingKind.INTERVAL,
            [
                (
                    1,
                    1,
                    Series(MeterRef("m"), "rt", ReadingKind.INTERVAL, [1_709_252_100], [1.0], [""]),
                )
            ],
            source="",
            message_log_id=None,
            received_at=0,
        )
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, _: (
                    not (type_ == "table" and is_partition(name))
                ),
            },
        )
        assert compare_metadata(context, Base.metadata) == []
