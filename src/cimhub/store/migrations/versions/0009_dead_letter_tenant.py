"""Dead letters belong to a tenant: dead_letter.tenant_id, under row-level security.

A dead letter's tenant is the one its headers name: the bus's ``cimhub-tenant``, an MQTT
letter's ``tenant``, or else the owner of the subscription it was being delivered for
(letters from the relay name their outbox row's tenant from now on: ``cimhub-tenant-id``).
Tenants are looked up, never created (a failed message may name a tenant the hub refused);
a letter whose tenant is unknown stays the hub's (NULL), which on PostgreSQL only a
hub-wide unit of work reads or writes.

Revision ID: 0009_dead_letter_tenant
Revises: 0008_subscription_tenant
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from cimhub.store import row_security
from cimhub.store.dead_letters import Tenants, owner

revision: str = "0009_dead_letter_tenant"
down_revision: str | None = "0008_subscription_tenant"
branch_labels: str | None = None
depends_on: str | None = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("dead_letter") as table:
        table.add_column(sa.Column("tenant_id", sa.Integer, nullable=True))
        table.create_foreign_key("fk_dead_letter_tenant", "tenant", ["tenant_id"], ["id"])
        table.create_index("ix_dead_letter_tenant_id", ["tenant_id"])
    bind = op.get_bind()
    row_security.act_hub_wide(bind)  # the tables read may be under RLS already
    codes = dict(bind.execute(sa.text("SELECT code, id FROM tenant")).all())
    subscriptions = dict(bind.execute(sa.text("SELECT name, tenant_id FROM subscription")).all())
    tenants = Tenants(codes.get, set(codes.values()).__contains__, subscriptions.get)
    last = 0
    while True:  # in batches by id: the bodies are not read, the headers are small
        rows = bind.execute(
            sa.text("SELECT id, headers FROM dead_letter WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        owners = [
            {"id": letter_id, "t": tenant}
            for letter_id, headers in rows
            if (tenant := owner(_headers(headers), tenants)) is not None
        ]
        if owners:
            bind.execute(sa.text("UPDATE dead_letter SET tenant_id = :t WHERE id = :id"), owners)
        last = rows[-1][0]
    row_security.secure(bind)


def _headers(text: str | None) -> dict[str, object]:
    try:
        found = json.loads(text or "{}")
    except ValueError:  # stored by hand or truncated: names no tenant
        return {}
    return found if isinstance(found, dict) else {}


def downgrade() -> None:
    row_security.unprotect_table(op.get_bind(), "dead_letter")
    with op.batch_alter_table("dead_letter") as table:
        table.drop_index("ix_dead_letter_tenant_id")
        table.drop_constraint("fk_dead_letter_tenant", type_="foreignkey")
        table.drop_column("tenant_id")
