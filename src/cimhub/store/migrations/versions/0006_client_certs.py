"""X.509 client certificates bound to system credentials, by fingerprint or subject.

Revision ID: 0006_client_certs
Revises: 0004_security
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_client_certs"
down_revision: str | None = "0004_security"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "credential_certificate",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("credential_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(1000), nullable=False),
        sa.UniqueConstraint("kind", "value", name="uq_credential_certificate"),
    )


def downgrade() -> None:
    op.drop_table("credential_certificate")
