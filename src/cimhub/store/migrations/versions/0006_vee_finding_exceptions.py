"""VEE findings remember when exception rules took them (``exceptions_at``): the prompt
reaction to a VeeFindings announcement and the periodic sweep each claim a finding once.

Findings the sweep already passed (up to its old high-water mark) count as taken.

Revision ID: 0006_vee_finding_exceptions
Revises: 0004_vee_review, 0005_exceptions
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_vee_finding_exceptions"
down_revision: tuple[str, ...] = ("0004_vee_review", "0005_exceptions")
branch_labels: str | None = None
depends_on: str | None = None

UNCLAIMED = sa.text("exceptions_at IS NULL")


def upgrade() -> None:
    op.add_column("vee_finding", sa.Column("exceptions_at", sa.BigInteger, nullable=True))
    op.execute(
        "UPDATE vee_finding SET exceptions_at = found_at WHERE id <= ("
        "SELECT s.last_finding_id FROM exception_sweep s "
        "WHERE s.tenant_id = vee_finding.tenant_id)"
    )
    op.create_index(
        "ix_vee_finding_unclaimed",
        "vee_finding",
        ["tenant_id", "id"],
        postgresql_where=UNCLAIMED,
        sqlite_where=UNCLAIMED,
    )


def downgrade() -> None:
    op.drop_index("ix_vee_finding_unclaimed", table_name="vee_finding")
    with op.batch_alter_table("vee_finding") as table:
        table.drop_column("exceptions_at")
