"""Subscriptions belong to a tenant: subscription.tenant_id, under row-level security.

A subscription naming a tenant (its code in ``subscription.tenant``) gets that tenant's id,
the tenant created if the hub has not met it yet (as ``tenants.ensure`` would); one naming
none stays hub-wide (NULL: every tenant's events). On PostgreSQL the table is then secured
like every tenant-scoped one, and hub-wide rows are readable from any scope but written
only hub-wide (``row_security.SHARED``).

Revision ID: 0008_subscription_tenant
Revises: 0004_tenant_rls
Create Date: 2026-12-06
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

from cimhub.store import row_security

revision: str = "0008_subscription_tenant"
down_revision: str | None = "0004_tenant_rls"
branch_labels: str | None = None
depends_on: str | None = None

#: Tenants that subscriptions name but the hub has not met yet.
MISSING_TENANTS = """
INSERT INTO tenant (code, name, created_at)
SELECT DISTINCT s.tenant, s.tenant, :now FROM subscription s
WHERE s.tenant IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tenant t WHERE t.code = s.tenant)
"""
FILL = """
UPDATE subscription SET tenant_id = (SELECT t.id FROM tenant t WHERE t.code = subscription.tenant)
WHERE tenant IS NOT NULL
"""


def upgrade() -> None:
    with op.batch_alter_table("subscription") as table:
        table.add_column(sa.Column("tenant_id", sa.Integer, nullable=True))
        table.create_foreign_key("fk_subscription_tenant", "tenant", ["tenant_id"], ["id"])
        table.create_index("ix_subscription_tenant_id", ["tenant_id"])
    bind = op.get_bind()
    bind.execute(sa.text(MISSING_TENANTS), {"now": int(time.time())})
    bind.execute(sa.text(FILL))
    row_security.secure(bind)


def downgrade() -> None:
    row_security.unprotect_table(op.get_bind(), "subscription")
    with op.batch_alter_table("subscription") as table:
        table.drop_index("ix_subscription_tenant_id")
        table.drop_constraint("fk_subscription_tenant", type_="foreignkey")
        table.drop_column("tenant_id")
