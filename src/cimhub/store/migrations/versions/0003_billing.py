"""Billing: configuration versions, daily aggregates, cycle determinants, exports.

Revision ID: 0003_billing
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_billing"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "billing_config",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "billing_daily",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("usage_point_id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("meter_id", sa.Integer, primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("calendar", sa.String(100), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("computed_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_billing_daily_meter", "billing_daily", ["tenant_id", "meter_id", "day"])
    op.create_table(
        "billing_determinant",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("cycle", sa.String(16), primary_key=True),
        sa.Column("usage_point_id", sa.Integer, primary_key=True),
        sa.Column("period_start", sa.BigInteger, nullable=False),
        sa.Column("period_end", sa.BigInteger, nullable=False),
        sa.Column("ready", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("computed_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "billing_export",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("cycle", sa.String(16), primary_key=True),
        sa.Column("subscription", sa.String(100), primary_key=True),
        sa.Column("usage_point_id", sa.Integer, primary_key=True),
        sa.Column("exported_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("billing_export", "billing_determinant", "billing_daily", "billing_config"):
        op.drop_table(table)
