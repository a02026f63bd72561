"""Billing: the record of the daily prepaid feed (usage point, day, subscriber, digest).

Revision ID: 0004_prepaid_feed
Revises: 0003_billing
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_prepaid_feed"
down_revision: str | None = "0003_billing"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "billing_prepaid_feed",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("subscription", sa.String(100), primary_key=True),
        sa.Column("usage_point_id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("fed_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("billing_prepaid_feed")
