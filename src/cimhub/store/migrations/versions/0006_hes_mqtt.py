"""Head-ends' MQTT broker logins: one per MQTT head-end, kept as Mosquitto's password hash
(`cimhub mqtt acl` writes the broker's password_file and acl_file from them).

Revision ID: 0006_hes_mqtt
Revises: 0004_controls
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_hes_mqtt"
down_revision: str | None = "0004_controls"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "hes_mqtt_login",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("hes", sa.String(100), primary_key=True),
        sa.Column("username", sa.String(201), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hes_mqtt_login")
