"""Reads the hub asks of head-ends: a read command's period, the replies that wait for
on-demand reads, and the re-reads of missed intervals.

Revision ID: 0006_reread
Revises: 0004_controls
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_reread"
down_revision: str | None = "0004_controls"
branch_labels: str | None = None
depends_on: str | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("end_device_control") as table:
        table.add_column(sa.Column("period_start", sa.BigInteger, nullable=True))
        table.add_column(sa.Column("period_end", sa.BigInteger, nullable=True))
    op.create_index(
        "ix_end_device_control_meter", "end_device_control", ["tenant_id", "meter_id", "kind"]
    )
    op.create_table(
        "deferred_reply",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("message_log_id", sa.BigInteger, nullable=True),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("request", sa.LargeBinary, nullable=False),
        sa.Column("command_ids", sa.Text, nullable=False),
        sa.Column("deadline", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("done_at", sa.BigInteger, nullable=True),
        sa.Column("result_code", sa.String(16), nullable=True),
    )
    op.create_index("ix_deferred_reply_open", "deferred_reply", ["done_at"])
    op.create_table(
        "reread_request",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("meter_id", sa.Integer, nullable=False),
        sa.Column("period_start", sa.BigInteger, nullable=False),
        sa.Column("period_end", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("command_id", sa.BigInteger, nullable=True),
        sa.Column("first_asked_at", sa.BigInteger, nullable=True),
        sa.Column("asked_at", sa.BigInteger, nullable=True),
        sa.Column("estimated_at", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint(
            "tenant_id", "meter_id", "period_start", "period_end", name="uq_reread_request"
        ),
    )
    op.create_index("ix_reread_request_state", "reread_request", ["tenant_id", "state"])


def downgrade() -> None:
    op.drop_table("reread_request")
    op.drop_table("deferred_reply")
    op.drop_index("ix_end_device_control_meter", table_name="end_device_control")
    with op.batch_alter_table("end_device_control") as table:
        table.drop_column("period_end")
        table.drop_column("period_start")
