"""PostgreSQL row-level security: the store's second line of tenant isolation.

Repositories filter by tenant explicitly; underneath, a unit of work sees only its
tenant's rows, and a session that set no tenant sees none at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from alembic import command
from sqlalchemy import exc, text

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.message import parser
from cimhub.settings import Settings
from cimhub.store.database import Database, alembic_config
from cimhub.store.dead_letters import DeadLetterRepository
from cimhub.store.models import Base
from cimhub.store.row_security import ROLE, SHARED, TenantScopeError, write_rows
from cimhub.store.security import Security
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.testing.databases import POSTGRES_ADMIN_URL, postgres_database
from cimhub.testing.messages import created_meter_readings, meter_mrid
from cimhub.testing.tenancy import (
    TENANT_A,
    TENANT_B,
    settled,
    tenant_scoped_tables,
    two_tenants_hub,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url() -> Iterator[str]:
    """PostgreSQL only: SQLite has no row-level security (repositories' filters are all)."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def two_tenants(database_url: str) -> Iterator[Hub]:
    with two_tenants_hub(Settings(database_url=database_url)) as hub:
        yield hub


def _ids(hub: Hub) -> tuple[int, int]:
    with hub.database.unit_of_work(hub=True) as uow:
        return uow.tenants.find(TENANT_A) or 0, uow.tenants.find(TENANT_B) or 0


def _counts(connection: object, tables: list[str]) -> dict[str, int]:
    return {
        t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()  # type: ignore[attr-defined]
        for t in tables
    }


def test_every_tenant_scoped_table_is_under_forced_row_level_security(two_tenants: Hub) -> None:
    tables = tenant_scoped_tables(two_tenants.database)
    modelled = {t.name for t in Base.metadata.tables.values() if "tenant_id" in t.c}
    assert modelled <= set(tables)
    with two_tenants.database.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                "array(SELECT polname::text FROM pg_policy p WHERE p.polrelid = c.oid "
                "ORDER BY 1) FROM pg_class c WHERE c.relname = ANY(:t)"
            ),
            {"t": tables},
        ).all()
    policies = ["hub_rows", "tenant_rows"]
    unprotected = [
        r[0]
        for r in rows
        if not (r[1] and r[2] and r[3] == sorted(policies + ["shared_rows"] * (r[0] in SHARED)))
    ]
    assert set(tables) >= SHARED  # the hub's subscriptions are readable by every tenant
    assert unprotected == []
    assert len(rows) == len(tables)


def test_a_session_that_set_no_tenant_sees_no_row(two_tenants: Hub) -> None:
    tables = tenant_scoped_tables(two_tenants.database)
    with two_tenants.database.unit_of_work(hub=True) as uow:  # hub-wide: everything is there
        everything = _counts(uow.session, tables)
    for table in (
        "meter",
        "usage_point",
        "interval_reading",
        "register_reading",
        "end_device_event",
        "message_log",
        "validated_reading",
    ):
        assert everything[table] > 0, table
    with two_tenants.database.unit_of_work(hub=False) as uow:
        assert set(_counts(uow.session, tables).values()) == {0}
    with two_tenants.database.unit_of_work() as uow:  # the default: no tenant either
        assert set(_counts(uow.session, tables).values()) == {0}
    # A bare session acting as the app role, settings untouched: nothing either.
    with two_tenants.database.engine.begin() as connection:
        connection.execute(text(f"SET LOCAL ROLE {ROLE}"))
        assert set(_counts(connection, tables).values()) == {0}


def test_a_unit_of_work_sees_only_its_own_tenant(two_tenants: Hub) -> None:
    a, _b = _ids(two_tenants)
    tables = tenant_scoped_tables(two_tenants.database)
    settled(two_tenants)  # the relay removing a delivered row between the counts is no leak
    with two_tenants.database.engine.connect() as connection:  # the owner: no policies
        own = {
            t: connection.execute(
                text(f'SELECT count(*) FROM "{t}" WHERE tenant_id = :a'), {"a": a}
            ).scalar()
            for t in tables
        }
    with two_tenants.database.unit_of_work(a) as uow:
        for table in tables:
            seen = uow.session.execute(text(f'SELECT DISTINCT tenant_id FROM "{table}"'))
            assert {row[0] for row in seen} <= {a}, table
        assert _counts(uow.session, tables) == own
    assert own["meter"] > 0 and own["interval_reading"] > 0


def test_a_unit_of_work_cannot_write_another_tenants_rows(two_tenants: Hub) -> None:
    a, b = _ids(two_tenants)
    with two_tenants.database.unit_of_work(a) as uow:
        changed = uow.session.execute(
            text("UPDATE meter SET make = 'x' WHERE tenant_id = :b"), {"b": b}
        )
        assert changed.rowcount == 0  # type: ignore[attr-defined]
        assert uow.session.execute(text("DELETE FROM end_device_event")).rowcount > 0  # type: ignore[attr-defined]
        raise_later = None
        try:
            with uow.session.begin_nested():
                uow.session.execute(
                    text(
                        "INSERT INTO meter (tenant_id, mrid, created_at, auto_registered) "
                        "VALUES (:b, 'intruder', 0, false)"
                    ),
                    {"b": b},
                )
        except exc.ProgrammingError as error:
            raise_later = error
        assert raise_later is not None and "row-level security" in str(raise_later)
        uow.session.rollback()
    with two_tenants.database.unit_of_work(b) as uow:
        assert uow.session.execute(text("SELECT count(*) FROM end_device_event")).scalar() > 0
        assert (
            uow.session.execute(text("SELECT count(*) FROM meter WHERE make = 'x'")).scalar() == 0
        )


def test_copy_into_a_tenant_table_takes_only_the_bound_tenants_rows(two_tenants: Hub) -> None:
    a, b = _ids(two_tenants)
    columns = "tenant_id, mrid, created_at, auto_registered"
    sql = f"COPY meter ({columns}) FROM STDIN"
    with pytest.raises(TenantScopeError), two_tenants.database.unit_of_work(a) as uow:
        driver = uow.session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            copy.write_row((b, "copied-in", 0, False))
    # the bulk writers' loop: B's row among A's is refused, and the COPY with it
    with pytest.raises(TenantScopeError), two_tenants.database.unit_of_work(a) as uow:
        driver = uow.session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            write_rows(copy, [(a, "bulk-a1", 0, False), (b, "bulk-b", 0, False)])
    with two_tenants.database.unit_of_work(a) as uow:
        driver = uow.session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            copy.write_row((a, "copied-in", 0, False))
        # back to the app role afterwards: still only tenant A's rows
        assert uow.session.execute(text("SELECT current_user")).scalar() == ROLE
        assert (
            uow.session.execute(
                text("SELECT count(*) FROM meter WHERE mrid = 'copied-in'")
            ).scalar()
            == 1
        )
        assert (
            uow.session.execute(text("SELECT count(*) FROM meter WHERE mrid LIKE 'bulk-%'"))
        ).scalar() == 0
    with two_tenants.database.unit_of_work(b) as uow:
        assert (
            uow.session.execute(
                text("SELECT count(*) FROM meter WHERE mrid = 'copied-in'")
            ).scalar()
            == 0
        )


def test_a_workers_batch_may_span_tenants(two_tenants: Hub) -> None:
    """One transaction, messages of both tenants: each is handled bound to its own."""
    pipeline = two_tenants.pipeline
    batch = []
    for n, tenant in enumerate((TENANT_A, TENANT_B, TENANT_A)):
        raw = created_meter_readings([7000 + n], datetime(2024, 7, 1, tzinfo=UTC), intervals=4)
        inbound = Inbound(raw, tenant, "amqp")
        batch.append(pipeline.accept(parser.parse(raw, pipeline.limits), inbound))
    answers = pipeline.handle_many(batch)
    assert [getattr(a, "result", a).value for a in answers] == ["OK", "OK", "OK"]
    a, b = _ids(two_tenants)
    mrids = [meter_mrid(7000 + n) for n in range(3)]
    with two_tenants.database.engine.connect() as connection:
        owners = dict(
            connection.execute(
                text("SELECT mrid, tenant_id FROM meter WHERE mrid = ANY(:m)"), {"m": mrids}
            ).all()
        )
    assert [owners.get(m) for m in mrids] == [a, b, a]


def test_a_tenant_sees_its_own_and_the_hubs_subscriptions_and_writes_its_own(
    database_url: str,
) -> None:
    db = Database(database_url)
    db.upgrade()
    with db.unit_of_work(hub=True) as uow:
        repo = SubscriptionRepository(uow)
        for name, tenant in (("of-a", "a"), ("of-b", "b"), ("of-hub", None)):
            repo.put(Subscription(name, "MeterReadings", ("created",), f"http://x/{name}",
                                  tenant=tenant))  # fmt: skip
        a, b = uow.tenants.ensure("a"), uow.tenants.ensure("b")
    with db.unit_of_work(a) as uow:
        names = uow.session.execute(text("SELECT name FROM subscription ORDER BY name"))
        assert [r[0] for r in names] == ["of-a", "of-hub"]
        for sql in (
            "UPDATE subscription SET address = 'x' WHERE name <> 'of-a'",
            "DELETE FROM subscription WHERE name <> 'of-a'",
        ):
            assert uow.session.execute(text(sql)).rowcount == 0  # type: ignore[attr-defined]
    for tenant_id in (b, None):  # neither B's nor the hub's may be written as A
        insert = text(
            "INSERT INTO subscription (name, tenant, tenant_id, noun, verbs, reading_types, "
            "event_types, address, protocol, max_attempts, backoff_seconds, active, "
            "created_at) VALUES ('intruder', NULL, :t, 'MeterReadings', 'created', '', '', "
            "'http://x', 'http', 1, 1, true, 0)"
        )
        refused = pytest.raises(exc.ProgrammingError, match="row-level security")
        with refused, db.unit_of_work(a) as uow:
            uow.session.execute(insert, {"t": tenant_id})
    with db.unit_of_work() as uow:  # bound to no tenant: the hub's only
        assert uow.session.execute(text("SELECT name FROM subscription")).scalars().all() == [
            "of-hub"
        ]
    with db.unit_of_work(hub=True) as uow:
        rows = uow.session.execute(text("SELECT name, address FROM subscription ORDER BY 1"))
        assert [r[1] for r in rows] == ["http://x/of-a", "http://x/of-b", "http://x/of-hub"]
    db.dispose()


def test_a_tenant_sees_and_changes_only_its_own_dead_letters(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    with db.unit_of_work(hub=True) as uow:
        a, b = uow.tenants.ensure("a"), uow.tenants.ensure("b")
        letters = DeadLetterRepository(uow)
        for tenant_id, body in ((a, b"of-a"), (b, b"of-b"), (None, b"of-hub")):
            letters.add(tenant_id=tenant_id, queue="q", reason=body.decode(), attempts=1,
                        headers={}, properties={}, body=body)  # fmt: skip
    with db.unit_of_work(a) as uow:
        seen = uow.session.execute(text("SELECT reason FROM dead_letter ORDER BY 1"))
        assert [r[0] for r in seen] == ["of-a"]  # neither B's nor the hub's
        for sql in (
            "UPDATE dead_letter SET replay_count = 9 WHERE reason <> 'of-a'",
            "DELETE FROM dead_letter WHERE reason <> 'of-a'",
        ):
            assert uow.session.execute(text(sql)).rowcount == 0  # type: ignore[attr-defined]
    for tenant_id in (b, None):  # neither B's nor the hub's may be written as A
        insert = text(
            "INSERT INTO dead_letter (tenant_id, queue, reason, attempts, headers, properties, "
            "body, dead_at, replay_count) VALUES (:t, 'q', 'intruder', 1, '{}', '{}', '', 0, 0)"
        )
        refused = pytest.raises(exc.ProgrammingError, match="row-level security")
        with refused, db.unit_of_work(a) as uow:
            uow.session.execute(insert, {"t": tenant_id})
    with db.unit_of_work() as uow:  # bound to no tenant: none at all
        assert uow.session.execute(text("SELECT count(*) FROM dead_letter")).scalar() == 0
    with db.unit_of_work(hub=True) as uow:
        rows = uow.session.execute(text("SELECT reason, replay_count FROM dead_letter"))
        assert sorted(rows.all()) == [("of-a", 0), ("of-b", 0), ("of-hub", 0)]
    db.dispose()


@pytest.fixture
def owners_url() -> Iterator[str]:
    """A database owned by, and migrated as, a LOGIN role that is no superuser (as the
    README asks for production): FORCEd row-level security binds it too."""
    import psycopg

    role, name = f"cimhub_owner_{uuid4().hex[:8]}", f"cimhub_test_{uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            f"DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT {ROLE} TO "{role}"')  # as a DBA would (README)
        admin.execute(f'CREATE DATABASE "{name}" OWNER "{role}"')
    host = POSTGRES_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0].split("@")[-1]
    try:
        yield f"postgresql+psycopg://{role}@{host}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_the_tenant_migrations_fill_in_owners_as_a_role_bound_by_rls(owners_url: str) -> None:
    """0009 reads subscriptions, 0010 credentials and users: tables already under RLS,
    which a migration sees whole only because it says it acts hub-wide."""
    config = alembic_config(owners_url)
    command.upgrade(config, "0008_subscription_tenant")
    command.upgrade(config, "0004_security")
    db = Database(owners_url)
    try:
        with db.engine.begin() as c:
            c.execute(text("SELECT set_config('cimhub.scope', 'hub', true)"))
            superuser = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            assert c.execute(text(superuser)).scalar() is False
            t = c.execute(text("INSERT INTO tenant (code, name, created_at) VALUES "
                               "('known', 'K', 0) RETURNING id")).scalar()  # fmt: skip
            c.execute(
                text(
                    "INSERT INTO subscription (name, tenant, tenant_id, noun, verbs, "
                    "reading_types, event_types, address, protocol, max_attempts, "
                    "backoff_seconds, active, created_at) VALUES ('billing-known', 'known', "
                    ":t, 'MeterReadings', 'created', '', '', 'http://x', 'http', 1, 1, true, 0)"
                ),
                {"t": t},
            )
            c.execute(
                text(
                    "INSERT INTO dead_letter (queue, reason, attempts, headers, properties, "
                    "body, dead_at, replay_count) VALUES ('q', 'r', 1, "
                    "'{\"cimhub-subscription\": \"billing-known\"}', '{}', '', 0, 0)"
                )
            )
            cred = c.execute(text("INSERT INTO credential (tenant_id, name, prefix, key_hash, "
                                  "allow, created_at) VALUES (:t, 'c', 'ck_1', 'h', '', 0) "
                                  "RETURNING id"), {"t": t}).scalar()  # fmt: skip
            c.execute(text("INSERT INTO member_role (kind, member_id, role_id) SELECT "
                           "'credential', :m, id FROM role WHERE name = 'operator'"),
                      {"m": cred})  # fmt: skip
        db.upgrade()
        with db.unit_of_work(hub=True) as uow:
            owners = uow.session.execute(
                text(
                    "SELECT 'dead_letter', tenant_id FROM dead_letter UNION ALL "
                    "SELECT 'member_role', tenant_id FROM member_role"
                )
            )
            assert sorted(owners.all()) == [("dead_letter", t), ("member_role", t)]
    finally:
        db.dispose()


def test_a_tenant_sees_and_changes_only_its_own_members_roles(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    with db.unit_of_work(hub=True) as uow:
        a, b = uow.tenants.ensure("a"), uow.tenants.ensure("b")
        security = Security(uow)
        for code in ("a", "b"):
            security.create_credential(code, f"system-{code}", ["operator"], actor="t")
        admin = uow.session.execute(text("SELECT id FROM role WHERE name = 'administrator'"))
        admin_id = admin.scalar()
    with db.unit_of_work(a) as uow:
        seen = uow.session.execute(text("SELECT tenant_id FROM member_role")).scalars().all()
        assert seen == [a]
        for sql in (  # B's system made administrator, or stripped of its roles, as A
            "UPDATE member_role SET role_id = :r WHERE tenant_id <> :a",
            "DELETE FROM member_role WHERE tenant_id <> :a",
        ):
            changed = uow.session.execute(text(sql), {"r": admin_id, "a": a})
            assert changed.rowcount == 0  # type: ignore[attr-defined]
    for tenant_id in (b, None):  # nor may A give B's member (or anyone hub-wide) a role
        refused = pytest.raises(exc.ProgrammingError, match="row-level security")
        with refused, db.unit_of_work(a) as uow:
            uow.session.execute(
                text(
                    "INSERT INTO member_role (kind, member_id, role_id, tenant_id) "
                    "SELECT 'credential', c.id, :r, :t FROM credential c"
                ),
                {"r": admin_id, "t": tenant_id},
            )
    with db.unit_of_work(hub=True) as uow:
        rows = uow.session.execute(
            text("SELECT m.tenant_id, r.name FROM member_role m JOIN role r ON r.id = m.role_id")
        )
        assert sorted(rows.all()) == [(a, "operator"), (b, "operator")]
    db.dispose()
