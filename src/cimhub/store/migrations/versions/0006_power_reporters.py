"""Head-ends that report power events: VEE counts their meters' outages as known.

Revision ID: 0006_power_reporters
Revises: 0003_events
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_power_reporters"
down_revision: str | None = "0003_events"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "power_event_reporter",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("hes", sa.String(100), primary_key=True),
        sa.Column("since", sa.BigInteger, nullable=False),
    )
    # head-ends whose meters already sent power events before this table existed
    op.execute(
        "INSERT INTO power_event_reporter (tenant_id, hes, since) "
        "SELECT e.tenant_id, m.hes, MIN(e.received_at) FROM end_device_event e "
        "JOIN meter m ON m.id = e.meter_id AND m.tenant_id = e.tenant_id "
        "WHERE m.hes IS NOT NULL AND e.event_type IN ('3.26.0.85', '3.26.0.216') "
        "GROUP BY e.tenant_id, m.hes"
    )


def downgrade() -> None:
    op.drop_table("power_event_reporter")
