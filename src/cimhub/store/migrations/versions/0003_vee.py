"""VEE: the validated layer (current + superseded versions) and the findings.

Revision ID: 0003_vee
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003_vee"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

KEY = ("tenant_id", "meter_id", "reading_type_id", "ts")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _validated_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("meter_id", sa.Integer, nullable=False),
        sa.Column("reading_type_id", sa.Integer, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("quality", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("method", sa.String(100), nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("config_version", sa.String(100), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "validated_reading",
        *_validated_columns(),
        sa.PrimaryKeyConstraint(*KEY, name="pk_validated_reading"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "validated_reading_version",
        *_validated_columns(),
        sa.Column("superseded_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(*KEY, "version", name="pk_validated_reading_version"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "vee_finding",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("meter_id", sa.Integer, nullable=False),
        sa.Column("reading_type_id", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("quality", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("first_ts", sa.BigInteger, nullable=False),
        sa.Column("last_ts", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("timestamps", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("config_version", sa.String(100), nullable=False),
        sa.Column("found_at", sa.BigInteger, nullable=False),
        sa.Column("cleared_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint(
            "tenant_id",
            "meter_id",
            "reading_type_id",
            "rule",
            "first_ts",
            "last_ts",
            name="uq_vee_finding",
        ),
    )
    op.create_index("ix_vee_finding_period", "vee_finding", ["tenant_id", "first_ts"])


def downgrade() -> None:
    op.drop_index("ix_vee_finding_period", "vee_finding")
    op.drop_table("vee_finding")
    op.drop_table("validated_reading_version")
    op.drop_table("validated_reading")
