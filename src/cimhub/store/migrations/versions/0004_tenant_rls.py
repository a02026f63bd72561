"""Tenant isolation underneath: row-level security on every tenant-scoped table.

PostgreSQL only (SQLite has none: a no-op there). Creates the NOLOGIN role the hub's
units of work act as, grants it DML, and puts every table with a ``tenant_id`` column
under ENABLEd and FORCEd RLS with the policies of ``cimhub.store.row_security``.
``Database.upgrade`` runs the same idempotent step after every upgrade, so tables that
later migrations add are covered without a migration of their own.

Revision ID: 0004_tenant_rls
Revises: 0003_billing, 0003_bus, 0003_events, 0003_master_data, 0003_vee
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from cimhub.store import row_security

revision: str = "0004_tenant_rls"
#: After every migration that creates tenant-scoped tables.
down_revision: tuple[str, ...] = (
    "0003_billing",
    "0003_bus",
    "0003_events",
    "0003_master_data",
    "0003_vee",
)
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    row_security.secure(op.get_bind())


def downgrade() -> None:
    row_security.unprotect(op.get_bind())
