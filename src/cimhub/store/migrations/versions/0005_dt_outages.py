"""DT-level outages, re-derived from the meter outages under each distribution transformer.

Revision ID: 0005_dt_outages
Revises: 0003_events
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_dt_outages"
down_revision: str | None = "0003_events"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "dt_outage",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("node_id", sa.Integer, primary_key=True),
        sa.Column("start", sa.BigInteger, primary_key=True),
        sa.Column("end", sa.BigInteger, nullable=True),
        sa.Column("meters_off", sa.Integer, nullable=False),
        sa.Column("meters_total", sa.Integer, nullable=False),
        sa.Column("derived_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dt_outage")
