"""Subscriptions belong to a tenant (migration 0008_subscription_tenant): a tenant's scope
lists its own and the hub's, changes only its own; the migration fills the owner in.

On PostgreSQL row-level security holds this underneath too (test_row_security): the
hub's subscriptions (no tenant) are readable by every tenant and writable by the hub alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text

from cimhub.store.database import Database, alembic_config
from cimhub.store.row_security import TenantScopeError
from cimhub.store.subscriptions import Subscription, SubscriptionRepository


def _sub(name: str, tenant: str | None) -> Subscription:
    return Subscription(name, "MeterReadings", ("created",), f"http://x/{name}", tenant=tenant)


@pytest.fixture
def subscribed(db: Database) -> tuple[int, int]:
    """Tenants a and b with a subscription each, and one of the hub's."""
    with db.unit_of_work(hub=True) as uow:
        repo = SubscriptionRepository(uow)
        for name, tenant in (("of-a", "a"), ("of-b", "b"), ("of-hub", None)):
            repo.put(_sub(name, tenant))
        return uow.tenants.ensure("a"), uow.tenants.ensure("b")


def _names(subs: list[Subscription]) -> list[str]:
    return sorted(s.name for s in subs)


def test_a_tenant_lists_its_own_and_the_hubs(db: Database, subscribed: tuple[int, int]) -> None:
    a, b = subscribed
    with db.unit_of_work(a) as uow:
        repo = SubscriptionRepository(uow)
        assert _names(repo.for_tenant(a)) == ["of-a", "of-hub"]
        assert repo.get("of-b", a) is None and repo.get("of-hub", a) is None
        assert repo.get("of-a", a) is not None
    with db.unit_of_work(hub=True) as uow:
        rows = uow.session.execute(text("SELECT name, tenant_id FROM subscription")).all()
        assert sorted(rows, key=str) == sorted(
            [("of-a", a), ("of-b", b), ("of-hub", None)], key=str
        )


def test_a_tenant_changes_only_its_own(db: Database, subscribed: tuple[int, int]) -> None:
    a, _b = subscribed
    with db.unit_of_work(a) as uow:
        repo = SubscriptionRepository(uow)
        assert not repo.remove("of-b", a) and not repo.remove("of-hub", a)
        with pytest.raises(TenantScopeError):  # the hub's, visible but not A's to replace
            repo.put(_sub("of-hub", "a"))
        repo.put(_sub("of-a", "a"))  # its own: replaced
        assert repo.remove("of-a", a)
    with db.unit_of_work(hub=True) as uow:
        assert _names(SubscriptionRepository(uow).all()) == ["of-b", "of-hub"]


@pytest.fixture
def before_0008(database_url: str) -> Iterator[str]:
    """A database migrated up to the revision 0008_subscription_tenant follows."""
    command.upgrade(alembic_config(database_url), "0004_tenant_rls")
    yield database_url


def test_the_migration_gives_subscriptions_their_tenant(before_0008: str) -> None:
    db = Database(before_0008)
    try:
        with db.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO tenant (code, name, created_at) VALUES ('known', 'K', 0)")
            )
            for name, tenant in (("of-known", "known"), ("of-unmet", "unmet"), ("all", None)):
                connection.execute(
                    text(
                        "INSERT INTO subscription (name, tenant, noun, verbs, reading_types, "
                        "event_types, address, protocol, max_attempts, backoff_seconds, "
                        "active, created_at) VALUES (:n, :t, 'MeterReadings', 'created', '', "
                        "'', 'http://x', 'http', 1, 1, true, 0)"
                    ),
                    {"n": name, "t": tenant},
                )
        db.upgrade()
        with db.unit_of_work(hub=True) as uow:
            known, unmet = uow.tenants.find("known"), uow.tenants.find("unmet")
            assert known and unmet  # a tenant only a subscription named is created
            rows = uow.session.execute(text("SELECT name, tenant_id FROM subscription"))
            assert dict(rows.all()) == {"of-known": known, "of-unmet": unmet, "all": None}
        with db.unit_of_work(known) as uow:
            assert _names(SubscriptionRepository(uow).for_tenant(known)) == ["all", "of-known"]
            if db.dialect == "postgresql":  # under RLS once upgraded
                seen = uow.session.execute(text("SELECT name FROM subscription ORDER BY 1"))
                assert [r[0] for r in seen] == ["all", "of-known"]
    finally:
        db.dispose()
