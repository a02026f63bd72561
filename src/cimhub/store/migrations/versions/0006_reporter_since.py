"""A head-end reports power events from the time of the earliest one it sent, not from
when the first one arrived: VEE counts its meters' outages as known only from then on.

Revision ID: 0006_reporter_since
Revises: 0006_power_reporters
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision: str = "0006_reporter_since"
down_revision: str | None = "0006_power_reporters"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # the tables are under row-level security
        op.execute("SELECT set_config('cimhub.scope', 'hub', true)")
    op.execute(
        "UPDATE power_event_reporter SET since = COALESCE(("
        "SELECT MIN(e.ts) FROM end_device_event e "
        "JOIN meter m ON m.id = e.meter_id AND m.tenant_id = e.tenant_id "
        "WHERE e.tenant_id = power_event_reporter.tenant_id "
        "AND m.hes = power_event_reporter.hes "
        "AND e.event_type IN ('3.26.0.85', '3.26.0.216')), since)"
    )


def downgrade() -> None:
    """The arrival times are not kept: the event times stay (an earlier start, no harm)."""
