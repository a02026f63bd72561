"""Events: meter events (EndDeviceEvents), derived outages, tenant event settings.

Revision ID: 0003_events
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_events"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "end_device_event",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("meter_id", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("mapped", sa.Boolean, nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("severity", sa.String(40), nullable=False),
        sa.Column("mrid", sa.String(100), nullable=True),
        sa.Column("vendor_code", sa.String(40), nullable=True),
        sa.Column("vendor_group", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("usage_point", sa.String(100), nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("message_log_id", sa.BigInteger, nullable=True),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint(
            "tenant_id", "meter_id", "event_type", "ts", name="uq_end_device_event"
        ),
    )
    op.create_index("ix_end_device_event_ts", "end_device_event", ["tenant_id", "meter_id", "ts"])
    op.create_table(
        "meter_outage",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("meter_id", sa.Integer, primary_key=True),
        sa.Column("start", sa.BigInteger, primary_key=True),
        sa.Column("end", sa.BigInteger, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("derived_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "event_config",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("momentary_seconds", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("event_config", "meter_outage", "end_device_event"):
        op.drop_table(table)
