"""Master data: tenant settings, meter asset attributes and lifecycle, hierarchy nodes,
usage points, installation history and lifecycle history.

Revision ID: 0003_master_data
Revises: 0002
Create Date: 2026-11-22

Meters that existed before (auto-registered from readings) get lifecycle stage
``unknown``; ``usage_point_link`` stays as the record of what readings reported.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_master_data"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
METER_COLUMNS = [
    ("make", sa.String(100)),
    ("model", sa.String(100)),
    ("meter_type", sa.String(32)),
    ("phases", sa.Integer()),
    ("ct_ratio", sa.Double()),
    ("pt_ratio", sa.Double()),
    ("dials", sa.Integer()),
    ("firmware", sa.String(100)),
    ("comm_module", sa.String(100)),
    ("hes", sa.String(100)),
    ("purchase_order", sa.String(100)),
    ("warranty_until", sa.String(10)),
    ("lot_number", sa.String(100)),
    ("lifecycle_since", sa.BigInteger()),
    ("updated_at", sa.BigInteger()),
]


def _tenant_fk() -> sa.Column:
    return sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenant.id"), nullable=False)


def upgrade() -> None:
    op.add_column("tenant", sa.Column("auto_register_meters", sa.Boolean, nullable=True))
    for name, type_ in METER_COLUMNS:
        op.add_column("meter", sa.Column(name, type_, nullable=True))
    op.add_column(
        "meter",
        sa.Column("lifecycle_stage", sa.String(32), nullable=False, server_default="unknown"),
    )
    op.add_column(
        "meter", sa.Column("record_status", sa.String(16), nullable=False, server_default="active")
    )
    op.create_index("uq_meter_tenant_serial", "meter", ["tenant_id", "serial_number"], unique=True)
    op.create_table(
        "hierarchy_node",
        sa.Column("id", sa.Integer, primary_key=True),
        _tenant_fk(),
        sa.Column("hierarchy", sa.String(16), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("hierarchy_node.id"), nullable=True),
        sa.Column("valid_from", sa.BigInteger, nullable=True),
        sa.Column("valid_to", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("tenant_id", "code", name="uq_hierarchy_node_code"),
    )
    op.create_index("ix_hierarchy_node_parent", "hierarchy_node", ["tenant_id", "parent_id"])
    op.create_table(
        "usage_point",
        sa.Column("id", sa.Integer, primary_key=True),
        _tenant_fk(),
        sa.Column("mrid", sa.String(100), nullable=False),
        sa.Column("consumer_number", sa.String(100), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("mobile", sa.String(32), nullable=True),
        sa.Column("email", sa.String(200), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("sanctioned_load", sa.Double, nullable=True),
        sa.Column("load_unit", sa.String(8), nullable=True),
        sa.Column("tariff_code", sa.String(64), nullable=True),
        sa.Column("payment_mode", sa.String(16), nullable=True),
        sa.Column("net_metering", sa.Boolean, nullable=True),
        sa.Column("pv_capacity_kw", sa.Double, nullable=True),
        sa.Column("supply_voltage", sa.Double, nullable=True),
        sa.Column("dt_node_id", sa.Integer, sa.ForeignKey("hierarchy_node.id"), nullable=True),
        sa.Column("feeder_node_id", sa.Integer, sa.ForeignKey("hierarchy_node.id"), nullable=True),
        sa.Column("org_node_id", sa.Integer, sa.ForeignKey("hierarchy_node.id"), nullable=True),
        sa.Column("latitude", sa.Double, nullable=True),
        sa.Column("longitude", sa.Double, nullable=True),
        sa.Column("metered", sa.Boolean, nullable=False),
        sa.Column("connected_load_kw", sa.Double, nullable=True),
        sa.Column("operating_hours", sa.Double, nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("connected_on", sa.BigInteger, nullable=True),
        sa.Column("record_status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("tenant_id", "mrid", name="uq_usage_point_mrid"),
    )
    op.create_index(
        "uq_usage_point_consumer", "usage_point", ["tenant_id", "consumer_number"], unique=True
    )
    op.create_index("ix_usage_point_dt", "usage_point", ["tenant_id", "dt_node_id"])
    op.create_table(
        "installation",
        sa.Column("id", BIG_ID, primary_key=True),
        _tenant_fk(),
        sa.Column("meter_id", sa.Integer, sa.ForeignKey("meter.id"), nullable=False),
        sa.Column("usage_point_id", sa.Integer, sa.ForeignKey("usage_point.id"), nullable=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey("hierarchy_node.id"), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("start_ts", sa.BigInteger, nullable=False),
        sa.Column("end_ts", sa.BigInteger, nullable=True),
        sa.Column("canceled", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("end_reason", sa.String(200), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_installation_meter", "installation", ["tenant_id", "meter_id", "start_ts"])
    op.create_index(
        "ix_installation_usage_point", "installation", ["tenant_id", "usage_point_id", "start_ts"]
    )
    op.create_index("ix_installation_node", "installation", ["tenant_id", "node_id", "start_ts"])
    op.create_table(
        "meter_lifecycle_event",
        sa.Column("id", BIG_ID, primary_key=True),
        _tenant_fk(),
        sa.Column("meter_id", sa.Integer, sa.ForeignKey("meter.id"), nullable=False),
        sa.Column("from_stage", sa.String(32), nullable=True),
        sa.Column("to_stage", sa.String(32), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("recorded_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_meter_lifecycle_meter", "meter_lifecycle_event", ["tenant_id", "meter_id", "at"]
    )


def downgrade() -> None:
    op.drop_table("meter_lifecycle_event")
    op.drop_table("installation")
    op.drop_table("usage_point")
    op.drop_table("hierarchy_node")
    op.drop_index("uq_meter_tenant_serial", "meter")
    with op.batch_alter_table("meter") as batch:
        for name in [n for n, _ in METER_COLUMNS] + ["lifecycle_stage", "record_status"]:
            batch.drop_column(name)
    with op.batch_alter_table("tenant") as batch:
        batch.drop_column("auto_register_meters")
