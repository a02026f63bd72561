"""Security: roles and grants (seeded with the built-in roles), credentials, users, the
WS-Security nonce cache and the hash-chained audit log with its head row.

Revision ID: 0004_security
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_security"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS = "0" * 64

#: The built-in roles as they were when this migration was written (later changes are data).
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "administrator": ("everything", ("*",)),
    "operator": (
        "runs the hub: reads, sends and edits, no administration, no approvals",
        (
            "*.get", "rest.*.read", "rest.*.write",
            "*.create", "*.change", "*.cancel", "*.close", "*.delete", "*.execute",
            "*.created", "*.changed", "*.canceled", "*.closed", "*.deleted", "*.executed",
        ),
    ),
    "analyst": ("reads everything, changes nothing", ("*.get", "rest.*.read")),
    "field supervisor": (
        "reads, asks for and approves connects/disconnects, corrects installations",
        (
            "*.get", "rest.*.read", "EndDeviceControls.create", "EndDeviceControls.cancel",
            "EndDeviceControls.approve", "MasterDataLinkageConfig.*", "MeterConfig.change",
        ),
    ),
    "billing system": (
        "reads readings, master data and billing determinants",
        (
            "MeterReadings.get", "UsagePointConfig.get", "MeterConfig.get",
            "rest.billing.read", "rest.masterdata.read", "rest.reports.read",
        ),
    ),
    "HES system": (
        "pushes readings and events, reports on controls",
        (
            "MeterReadings.created", "MeterReadings.create", "MeterReadings.changed",
            "EndDeviceEvents.created", "EndDeviceEvents.create",
            "EndDeviceControls.created", "EndDeviceControls.changed",
            "EndDeviceControls.canceled", "EndDeviceControls.closed",
            "EndDeviceControls.deleted", "EndDeviceControls.executed",
            "EndDeviceControls.reply", "MeterConfig.get",
        ),
    ),
    "read-only": ("reads everything, changes nothing", ("*.get", "rest.*.read")),
}  # fmt: skip


def upgrade() -> None:
    role = op.create_table(
        "role",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.String(200), nullable=False),
    )
    grant = op.create_table(
        "role_grant",
        sa.Column("role_id", sa.Integer, sa.ForeignKey("role.id"), primary_key=True),
        sa.Column("permission", sa.String(200), primary_key=True),
    )
    op.create_table(
        "credential",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("digest_secret", sa.Text, nullable=True),
        sa.Column("allow", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_credential_name", "credential", ["tenant_id", "name"])
    op.create_table(
        "hub_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenant.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("disabled_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "member_role",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("member_id", sa.Integer, primary_key=True),
        sa.Column("role_id", sa.Integer, sa.ForeignKey("role.id"), primary_key=True),
    )
    op.create_table(
        "wsse_nonce",
        sa.Column("nonce", sa.String(200), primary_key=True),
        sa.Column("seen_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_wsse_nonce_seen_at", "wsse_nonce", ["seen_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("object", sa.String(300), nullable=False),
        sa.Column("before", sa.Text, nullable=True),
        sa.Column("after", sa.Text, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_tenant", "audit_log", ["tenant"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": GENESIS}])
    op.bulk_insert(
        role,
        [
            {"id": i, "name": name, "description": description}
            for i, (name, (description, _)) in enumerate(ROLES.items(), start=1)
        ],
    )
    op.bulk_insert(
        grant,
        [
            {"role_id": i, "permission": p}
            for i, (_, grants) in enumerate(ROLES.values(), start=1)
            for p in grants
        ],
    )
    if op.get_bind().dialect.name == "postgresql":  # explicit ids above: move the sequence on
        op.execute("SELECT setval('role_id_seq', (SELECT max(id) FROM role))")


def downgrade() -> None:
    for table in (
        "audit_head",
        "audit_log",
        "wsse_nonce",
        "member_role",
        "hub_user",
        "credential",
        "role_grant",
        "role",
    ):
        op.drop_table(table)
