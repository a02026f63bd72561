"""Role memberships belong to the member's tenant (migration 0010_member_role_tenant):
written with it, read and replaced through it; the migration copies it from the member.

On PostgreSQL row-level security holds this underneath too (test_row_security).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text

from cimhub.domain.access import Kind
from cimhub.store.database import Database, alembic_config
from cimhub.store.security import Security
from cimhub.testing.security import PASSWORD


def _memberships(db: Database) -> list[tuple[str, str, int | None]]:
    with db.unit_of_work(hub=True) as uow:
        rows = uow.session.execute(
            text(
                "SELECT m.kind, r.name, m.tenant_id FROM member_role m "
                "JOIN role r ON r.id = m.role_id"
            )
        )
        return sorted(rows.all(), key=str)


def test_memberships_are_the_members_tenants(db: Database) -> None:
    with db.unit_of_work(hub=True) as uow:
        a, b = uow.tenants.ensure("a"), uow.tenants.ensure("b")
        security = Security(uow)
        key = security.create_credential("a", "billing", ["operator"], actor="t")
        security.create_user("b", "asha", PASSWORD, ["analyst"], actor="t")
    assert _memberships(db) == [("credential", "operator", a), ("user", "analyst", b)]
    prefix = key.split(".", 1)[0]
    with db.unit_of_work(hub=True) as uow:
        Security(uow).replace_roles(Kind.CREDENTIAL, prefix, ["analyst", "operator"], actor="t")
    assert _memberships(db) == [
        ("credential", "analyst", a), ("credential", "operator", a), ("user", "analyst", b)
    ]  # fmt: skip
    with db.unit_of_work(a) as uow:  # a's scope reads its own member's roles
        [info] = Security(uow).credentials("a")
        assert info.roles == ("analyst", "operator")
        member = Security(uow).credential_by_key(key)
        assert member is not None and member.roles == {"analyst", "operator"}


@pytest.fixture
def before_0010(database_url: str) -> Iterator[str]:
    """A database migrated up to the revision 0010_member_role_tenant follows."""
    command.upgrade(alembic_config(database_url), "0004_security")
    yield database_url


def test_the_migration_gives_memberships_their_members_tenant(before_0010: str) -> None:
    db = Database(before_0010)
    try:
        with db.engine.begin() as c:
            ids = {}
            for code in ("a", "b"):
                c.execute(text("INSERT INTO tenant (code, name, created_at) "
                               "VALUES (:c, :c, 0)"), {"c": code})  # fmt: skip
                ids[code] = c.execute(text("SELECT id FROM tenant WHERE code = :c"),
                                      {"c": code}).scalar()  # fmt: skip
            c.execute(text("INSERT INTO credential (id, tenant_id, name, prefix, key_hash, allow, "
                           "created_at) VALUES (7, :t, 'c', 'ck_1', 'h', '', 0)"),
                      {"t": ids["a"]})  # fmt: skip
            c.execute(text("INSERT INTO hub_user (id, tenant_id, name, password_hash, created_at) "
                           "VALUES (7, :t, 'u', 'h', 0)"), {"t": ids["b"]})  # fmt: skip
            for kind, member in (("credential", 7), ("user", 7), ("user", 99)):  # 99: gone
                c.execute(text("INSERT INTO member_role (kind, member_id, role_id) SELECT "
                               ":k, :m, id FROM role WHERE name = 'operator'"),
                          {"k": kind, "m": member})  # fmt: skip
        db.upgrade()
        with db.unit_of_work(hub=True) as uow:
            rows = uow.session.execute(text("SELECT kind, member_id, tenant_id FROM member_role"))
            assert sorted(rows.all(), key=str) == sorted(
                [("credential", 7, ids["a"]), ("user", 7, ids["b"]), ("user", 99, None)], key=str
            )
        with db.unit_of_work(ids["b"]) as uow:
            member = Security(uow).user_member(7)
            assert member is not None and member.roles == {"operator"}
            if db.dialect == "postgresql":  # under RLS once upgraded
                seen = uow.session.execute(text("SELECT kind, member_id FROM member_role"))
                assert seen.all() == [("user", 7)]
    finally:
        db.dispose()
