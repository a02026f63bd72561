"""Dead letters belong to a tenant (migration 0009_dead_letter_tenant): the one their
headers name; a tenant's scope lists, reads and marks its own only, the hub's (no tenant)
only hub-wide units of work do; the migration fills the owner in from the headers.

On PostgreSQL row-level security holds this underneath too (test_row_security).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text

from cimhub.store.database import Database, alembic_config
from cimhub.store.dead_letters import EVERY_TENANT, DeadLetterRepository
from cimhub.store.subscriptions import Subscription, SubscriptionRepository


def _add(repo: DeadLetterRepository, tenant_id: int | None, body: bytes) -> int:
    return repo.add(tenant_id=tenant_id, queue="cimhub.inbound", reason="5.2", attempts=3,
                    headers={}, properties={}, body=body)  # fmt: skip


@pytest.fixture
def letters(db: Database) -> tuple[int, int, dict[str, int]]:
    """Tenants a and b with a dead letter each, and one of the hub's."""
    with db.unit_of_work(hub=True) as uow:
        a, b = uow.tenants.ensure("a"), uow.tenants.ensure("b")
        repo = DeadLetterRepository(uow)
        ids = {"a": _add(repo, a, b"of-a"), "b": _add(repo, b, b"of-b"),
               "hub": _add(repo, None, b"of-hub")}  # fmt: skip
        return a, b, ids


def test_a_tenant_reads_and_marks_only_its_own(
    db: Database, letters: tuple[int, int, dict[str, int]]
) -> None:
    a, _b, ids = letters
    with db.unit_of_work(a) as uow:
        repo = DeadLetterRepository(uow)
        assert [lt.body for lt in repo.list(a)] == [b"of-a"]
        assert repo.get(ids["b"], a) is None and repo.get(ids["hub"], a) is None
        assert repo.get(ids["a"], a) is not None
        assert not repo.mark_replayed(ids["b"], a) and not repo.mark_replayed(ids["hub"], a)
        assert repo.mark_replayed(ids["a"], a)
    with db.unit_of_work(hub=True) as uow:
        repo = DeadLetterRepository(uow)
        every = repo.list(EVERY_TENANT, include_replayed=True)
        assert [(lt.body, lt.replay_count) for lt in every] == [
            (b"of-a", 1), (b"of-b", 0), (b"of-hub", 0)
        ]  # fmt: skip
        assert [lt.body for lt in repo.list(None)] == [b"of-hub"]  # the hub's own
        assert [lt.body for lt in repo.list(EVERY_TENANT)] == [b"of-b", b"of-hub"]


def test_a_letters_owner_is_the_tenant_its_headers_name(db: Database) -> None:
    with db.unit_of_work(hub=True) as uow:
        a, b = uow.tenants.ensure("a"), uow.tenants.ensure("b")
        SubscriptionRepository(uow).put(
            Subscription("billing-b", "MeterReadings", ("created",), "http://x", tenant="b")
        )
        repo = DeadLetterRepository(uow)
        assert repo.owner_of({"cimhub-tenant": "a"}) == a  # an inbound bus message
        assert repo.owner_of({"tenant": "b", "mqtt_topic": "x"}) == b  # an MQTT letter
        assert repo.owner_of({"cimhub-tenant-id": b}) == b  # relayed from b's outbox row
        assert repo.owner_of({"cimhub-subscription": "billing-b"}) == b
        for unknown in ({"cimhub-tenant": "nobody"}, {"cimhub-tenant-id": 9999},
                        {"cimhub-subscription": "gone"}, {}):  # fmt: skip
            assert repo.owner_of(unknown) is None  # the hub's


@pytest.fixture
def before_0009(database_url: str) -> Iterator[str]:
    """A database migrated up to the revision 0009_dead_letter_tenant follows."""
    command.upgrade(alembic_config(database_url), "0008_subscription_tenant")
    yield database_url


def test_the_migration_gives_dead_letters_their_tenant(before_0009: str) -> None:
    db = Database(before_0009)
    headers = {
        "by-code": {"cimhub-tenant": "known"},
        "mqtt": {"tenant": "other", "mqtt_topic": "v/data"},
        "by-subscription": {"cimhub-subscription": "billing-known"},
        "unknown-code": {"cimhub-tenant": "unmet"},
        "none": {"cimhub-outbox-id": 7},
        "not-json": None,
    }
    try:
        with db.engine.begin() as connection:
            for code in ("known", "other"):
                connection.execute(
                    text("INSERT INTO tenant (code, name, created_at) VALUES (:c, :c, 0)"),
                    {"c": code},
                )
            connection.execute(
                text(
                    "INSERT INTO subscription (name, tenant, tenant_id, noun, verbs, "
                    "reading_types, event_types, address, protocol, max_attempts, "
                    "backoff_seconds, active, created_at) VALUES ('billing-known', 'known', "
                    "(SELECT id FROM tenant WHERE code = 'known'), 'MeterReadings', 'created', "
                    "'', '', 'http://x', 'http', 1, 1, true, 0)"
                )
            )
            for name, header in headers.items():
                connection.execute(
                    text(
                        "INSERT INTO dead_letter (queue, reason, attempts, headers, properties, "
                        "body, dead_at, replay_count) VALUES ('q', :n, 1, :h, '{}', :b, 0, 0)"
                    ),
                    {"n": name, "h": "{oops" if header is None else json.dumps(header),
                     "b": name.encode()},
                )  # fmt: skip
        db.upgrade()
        with db.unit_of_work(hub=True) as uow:
            known, other = uow.tenants.find("known"), uow.tenants.find("other")
            assert known and other and uow.tenants.find("unmet") is None  # none created
            rows = uow.session.execute(text("SELECT reason, tenant_id FROM dead_letter"))
            assert dict(rows.all()) == {
                "by-code": known, "mqtt": other, "by-subscription": known,
                "unknown-code": None, "none": None, "not-json": None,
            }  # fmt: skip
        with db.unit_of_work(known) as uow:
            mine = DeadLetterRepository(uow).list(known)
            assert sorted(lt.reason for lt in mine) == ["by-code", "by-subscription"]
            if db.dialect == "postgresql":  # under RLS once upgraded
                seen = uow.session.execute(text("SELECT reason FROM dead_letter ORDER BY 1"))
                assert [r[0] for r in seen] == ["by-code", "by-subscription"]
    finally:
        db.dispose()
