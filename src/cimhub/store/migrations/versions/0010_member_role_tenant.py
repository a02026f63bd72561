"""Role memberships belong to the member's tenant: member_role.tenant_id, under RLS.

A credential's or user's roles are its tenant's rows like the member itself: the fill
copies ``credential.tenant_id`` / ``hub_user.tenant_id``. A membership whose member is
gone (none are deleted today) stays the hub's (NULL): only hub-wide units of work see it.

Revision ID: 0010_member_role_tenant
Revises: 0004_security
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cimhub.store import row_security

revision: str = "0010_member_role_tenant"
down_revision: str | None = "0004_security"
branch_labels: str | None = None
depends_on: str | None = None

FILL = """
UPDATE member_role SET tenant_id = (SELECT m.tenant_id FROM {table} m
                                    WHERE m.id = member_role.member_id)
WHERE kind = :kind
"""


def upgrade() -> None:
    with op.batch_alter_table("member_role") as table:
        table.add_column(sa.Column("tenant_id", sa.Integer, nullable=True))
        table.create_foreign_key("fk_member_role_tenant", "tenant", ["tenant_id"], ["id"])
        table.create_index("ix_member_role_tenant_id", ["tenant_id"])
    bind = op.get_bind()
    row_security.act_hub_wide(bind)  # the tables read may be under RLS already
    for kind, table_name in (("credential", "credential"), ("user", "hub_user")):
        bind.execute(sa.text(FILL.format(table=table_name)), {"kind": kind})
    row_security.secure(bind)


def downgrade() -> None:
    row_security.unprotect_table(op.get_bind(), "member_role")
    with op.batch_alter_table("member_role") as table:
        table.drop_index("ix_member_role_tenant_id")
        table.drop_constraint("fk_member_role_tenant", type_="foreignkey")
        table.drop_column("tenant_id")
