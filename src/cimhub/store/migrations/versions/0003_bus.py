"""The message bus: transactional outbox, subscriptions and their deliveries, dead letters.

Revision ID: 0003_bus
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_bus"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("noun", sa.String(100), nullable=False),
        sa.Column("verb", sa.String(32), nullable=False),
        sa.Column("message_log_id", sa.BigInteger),
        sa.Column("address", sa.Text),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("relayed_at", sa.BigInteger),
        sqlite_autoincrement=True,  # ids are never reused: they name messages
    )
    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("tenant", sa.String(64)),
        sa.Column("noun", sa.String(100), nullable=False),
        sa.Column("verbs", sa.String(200), nullable=False),
        sa.Column("reading_types", sa.Text, nullable=False),
        sa.Column("event_types", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("credentials", sa.Text),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("backoff_seconds", sa.Double, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "subscription_delivery",
        sa.Column("subscription_id", sa.Integer, primary_key=True),
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("delivered_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "dead_letter",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("queue", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("properties", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("dead_at", sa.BigInteger, nullable=False),
        sa.Column("replayed_at", sa.BigInteger),
        sa.Column("replay_count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("dead_letter", "subscription_delivery", "subscription", "outbox"):
        op.drop_table(table)
