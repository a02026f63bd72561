"""Exceptions, service orders, their histories and the findings sweep's watermark.

Revision ID: 0005_exceptions
Revises: 0003_events
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_exceptions"
down_revision: str | None = "0003_events"
branch_labels: str | None = None
depends_on: str | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "meter_exception",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("meter_id", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("first_at", sa.BigInteger, nullable=False),
        sa.Column("last_at", sa.BigInteger, nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("revenue_protection", sa.Boolean, nullable=False),
        sa.Column("service_order_id", sa.BigInteger, nullable=True),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_meter_exception_meter", "meter_exception", ["tenant_id", "meter_id", "status"]
    )
    op.create_index("ix_meter_exception_status", "meter_exception", ["tenant_id", "status"])
    op.create_table(
        "service_order",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("mrid", sa.String(100), nullable=False),
        sa.Column("meter_id", sa.Integer, nullable=False),
        sa.Column("exception_id", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("closed_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("tenant_id", "mrid", name="uq_service_order_mrid"),
    )
    op.create_index("ix_service_order_meter", "service_order", ["tenant_id", "meter_id", "status"])
    op.create_table(
        "work_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_work_history_subject", "work_history", ["tenant_id", "subject", "subject_id"]
    )
    op.create_table(
        "exception_sweep",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("last_finding_id", sa.BigInteger, nullable=False),
        sa.Column("swept_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("exception_sweep", "work_history", "service_order", "meter_exception"):
        op.drop_table(table)
