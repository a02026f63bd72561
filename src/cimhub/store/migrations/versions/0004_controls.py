"""Commands: EndDeviceControls, their moves, head-end endpoints and the command outbox.

Revision ID: 0004_controls
Revises: 0003_events
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_controls"
down_revision: str | None = "0003_events"
branch_labels: str | None = None
depends_on: str | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "end_device_control",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("mrid", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("control_type", sa.String(40), nullable=False),
        sa.Column("meter_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("requester", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("demand_limit_w", sa.Double, nullable=True),
        sa.Column("correlation_id", sa.String(200), nullable=True),
        sa.Column("hes", sa.String(100), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("sent_at", sa.BigInteger, nullable=True),
        sa.Column("message_log_id", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("tenant_id", "mrid", name="uq_end_device_control"),
    )
    op.create_index("ix_end_device_control_state", "end_device_control", ["tenant_id", "state"])
    op.create_table(
        "end_device_control_transition",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("command_id", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_edc_transition_command", "end_device_control_transition", ["command_id"])
    op.create_table(
        "hes_endpoint",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("vendor", sa.String(100), nullable=True),
    )
    op.create_table(
        "hes_dispatch",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("command_id", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Double, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("done_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_hes_dispatch_due", "hes_dispatch", ["done_at", "next_attempt_at"])


def downgrade() -> None:
    for table in ("hes_dispatch", "hes_endpoint", "end_device_control_transition"):
        op.drop_table(table)
    op.drop_table("end_device_control")
