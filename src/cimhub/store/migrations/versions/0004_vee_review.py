"""VEE findings get a review state: new → acknowledged → closed, with who, when and a note.

Revision ID: 0004_vee_review
Revises: 0003_vee
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_vee_review"
down_revision: str | None = "0003_vee"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = ("review", "reviewed_by", "reviewed_at", "review_note")


def upgrade() -> None:
    op.add_column(
        "vee_finding", sa.Column("review", sa.String(16), nullable=False, server_default="new")
    )
    op.add_column("vee_finding", sa.Column("reviewed_by", sa.String(200), nullable=True))
    op.add_column("vee_finding", sa.Column("reviewed_at", sa.BigInteger, nullable=True))
    op.add_column("vee_finding", sa.Column("review_note", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vee_finding") as table:
        for name in reversed(COLUMNS):
            table.drop_column(name)
