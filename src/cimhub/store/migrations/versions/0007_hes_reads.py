"""Reads asked of head-ends as GetMeterReadings: how each CIM head-end is asked (read_as),
a read's reading types, re-reads of silent meters, and a tenant's staleness threshold.

Revision ID: 0007_hes_reads
Revises: 0006_reread
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_hes_reads"
down_revision: str | None = "0006_reread"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("hes_endpoint") as table:
        table.add_column(sa.Column("read_as", sa.String(8), nullable=False, server_default="get"))
    with op.batch_alter_table("end_device_control") as table:
        table.add_column(sa.Column("reading_types", sa.Text, nullable=True))
    with op.batch_alter_table("reread_request") as table:  # a gap and a silence may span alike
        table.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="gap"))
        table.drop_constraint("uq_reread_request", type_="unique")
        table.create_unique_constraint(
            "uq_reread_request", ["tenant_id", "meter_id", "kind", "period_start", "period_end"]
        )
    op.add_column("tenant", sa.Column("on_demand_stale_minutes", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant") as table:
        table.drop_column("on_demand_stale_minutes")
    with op.batch_alter_table("reread_request") as table:
        table.drop_constraint("uq_reread_request", type_="unique")
        table.create_unique_constraint(
            "uq_reread_request", ["tenant_id", "meter_id", "period_start", "period_end"]
        )
        table.drop_column("kind")
    with op.batch_alter_table("end_device_control") as table:
        table.drop_column("reading_types")
    with op.batch_alter_table("hes_endpoint") as table:
        table.drop_column("read_as")
