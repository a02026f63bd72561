"""Interactive sessions: users' sessions (tokens stored hashed), failed-login counters and
the tenants' concurrent-session limits.

Revision ID: 0006_sessions
Revises: 0004_security
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_sessions"
down_revision: str | None = "0004_security"
branch_labels: str | None = None
depends_on: str | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "login_session",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
        sa.Column("end_reason", sa.String(16), nullable=True),
    )
    op.create_index("ix_login_session_user", "login_session", ["user_id", "ended_at"])
    op.create_table(
        "login_failure",
        sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("last_at", sa.BigInteger, nullable=False),
        sa.Column("locked_until", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "session_limit",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("role", sa.String(64), primary_key=True),
        sa.Column("max_sessions", sa.Integer, nullable=False),
        sa.Column("on_limit", sa.String(8), nullable=False),
    )


def downgrade() -> None:
    for table in ("session_limit", "login_failure", "login_session"):
        op.drop_table(table)
