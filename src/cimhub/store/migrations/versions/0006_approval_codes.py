"""One-time codes for approvals: the tenant's setting, the codes, the approvers' contacts.

Revision ID: 0006_approval_codes
Revises: 0004_controls
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_approval_codes"
down_revision: str | None = "0004_controls"
branch_labels: str | None = None
depends_on: str | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("tenant", sa.Column("approval_codes", sa.Boolean, nullable=True))
    op.create_table(
        "approval_code",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("commands", sa.Text, nullable=False),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("used_at", sa.BigInteger, nullable=True),
    )
    op.create_index(
        "ix_approval_code_approver", "approval_code", ["tenant_id", "approver", "digest"]
    )
    op.create_table(
        "approver_contact",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("principal", sa.String(200), primary_key=True),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("approver_contact")
    op.drop_table("approval_code")
    with op.batch_alter_table("tenant") as batch:
        batch.drop_column("approval_codes")
