"""Usage points as reported with readings (MeterReading/UsagePoint), linked to meters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "usage_point_link",
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenant.id"), primary_key=True),
        sa.Column("usage_point", sa.String(200), primary_key=True),
        sa.Column("meter_id", sa.Integer, sa.ForeignKey("meter.id"), primary_key=True),
        sa.Column("first_seen", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_point_link")
