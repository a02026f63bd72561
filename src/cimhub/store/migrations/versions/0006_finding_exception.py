"""A VEE finding remembers the exception it opened or added to, so an exception whose
findings are all cleared can be resolved.

Revision ID: 0006_finding_exception
Revises: 0006_vee_finding_exceptions
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_finding_exception"
down_revision: str | None = "0006_vee_finding_exceptions"
branch_labels: str | None = None
depends_on: str | None = None

LINKED = sa.text("exception_id IS NOT NULL")


def upgrade() -> None:
    op.add_column("vee_finding", sa.Column("exception_id", sa.BigInteger, nullable=True))
    op.create_index(
        "ix_vee_finding_exception",
        "vee_finding",
        ["tenant_id", "exception_id"],
        postgresql_where=LINKED,
        sqlite_where=LINKED,
    )


def downgrade() -> None:
    op.drop_index("ix_vee_finding_exception", table_name="vee_finding")
    with op.batch_alter_table("vee_finding") as table:
        table.drop_column("exception_id")
