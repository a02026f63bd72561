"""Initial schema: tenants, meters, reading types, readings with versions, message log.

Revision ID: 0001
Revises:
Create Date: 2026-11-01

Timestamps are BigInteger UTC epoch seconds. On PostgreSQL ``interval_reading`` is
partitioned by RANGE (ts); its monthly partitions are created on demand by the readings
repository (there is no default partition). On SQLite it is a plain WITHOUT ROWID table.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
READING_KEY = ("tenant_id", "meter_id", "reading_type_id", "ts")


def _reading_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("meter_id", sa.Integer, nullable=False),
        sa.Column("reading_type_id", sa.Integer, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("quality", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("message_log_id", sa.BigInteger, nullable=True),
        sa.Column("received_at", sa.BigInteger, nullable=False),
    ]


def _create_reading_tables(name: str, **current_kw: Any) -> None:
    op.create_table(
        name,
        *_reading_columns(),
        sa.PrimaryKeyConstraint(*READING_KEY, name=f"pk_{name}"),
        sqlite_with_rowid=False,
        **current_kw,
    )
    op.create_table(
        f"{name}_version",
        *_reading_columns(),
        sa.Column("superseded_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(*READING_KEY, "version", name=f"pk_{name}_version"),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    op.create_table(
        "tenant",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "meter",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("mrid", sa.String(100), nullable=False),
        sa.Column("serial_number", sa.String(100), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("auto_registered", sa.Boolean, nullable=False),
        sa.UniqueConstraint("tenant_id", "mrid", name="uq_meter_tenant_mrid"),
    )
    op.create_table(
        "meter_name",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("meter_id", sa.Integer, sa.ForeignKey("meter.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_type", sa.String(64), nullable=True),
        sa.UniqueConstraint("tenant_id", "name", name="uq_meter_name_tenant_name"),
    )
    op.create_index("ix_meter_name_meter_id", "meter_name", ["meter_id"])
    op.create_table(
        "reading_type",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(100), nullable=False, unique=True),
        *(
            sa.Column(name, sa.Integer, nullable=False)
            for name in (
                "macro_period",
                "aggregate",
                "measuring_period",
                "interval_seconds",
                "accumulation",
                "flow_direction",
                "commodity",
                "measurement_kind",
                "tou",
                "phases",
                "multiplier",
                "unit",
            )
        ),
        sa.Column("unit_symbol", sa.String(32), nullable=False),
    )
    # Declarative partitioning by calendar month (UTC) of the interval-end ts; the
    # postgresql_ keyword is PostgreSQL-only DDL and leaves SQLite a plain table.
    _create_reading_tables("interval_reading", postgresql_partition_by="RANGE (ts)")
    _create_reading_tables("register_reading")
    op.create_table(
        "message_log",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("message_key", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("verb", sa.String(32), nullable=False),
        sa.Column("noun", sa.String(100), nullable=False),
        sa.Column("correlation_id", sa.String(200), nullable=True),
        sa.Column("transport", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=True),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("reply_code", sa.String(16), nullable=True),
        sa.Column("reply", sa.LargeBinary, nullable=True),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("completed_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_message_log_key", "message_log", ["tenant_id", "source", "message_key"])


def downgrade() -> None:
    op.drop_table("message_log")
    for name in ("register_reading", "interval_reading"):
        op.drop_table(f"{name}_version")
        op.drop_table(name)  # on PostgreSQL this drops its partitions too
    op.drop_table("reading_type")
    op.drop_index("ix_meter_name_meter_id", "meter_name")
    op.drop_table("meter_name")
    op.drop_table("meter")
    op.drop_table("tenant")
