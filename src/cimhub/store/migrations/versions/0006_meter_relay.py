"""Each meter's relay over time (connected / disconnected periods), derived from executed
connect/disconnect commands and RCD-switch events, for VEE; derived here for the switches
already stored.

Revision ID: 0006_meter_relay
Revises: 0004_controls (which follows 0003_events)
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from cimhub.domain.relay import SWITCH_COMMANDS, SWITCH_EVENTS, Relay, derive_relay

revision: str = "0006_meter_relay"
down_revision: str | None = "0004_controls"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    table = op.create_table(
        "meter_relay",
        sa.Column("tenant_id", sa.Integer, primary_key=True),
        sa.Column("meter_id", sa.Integer, primary_key=True),
        sa.Column("start", sa.BigInteger, primary_key=True),
        sa.Column("end", sa.BigInteger, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("derived_at", sa.BigInteger, nullable=False),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # the tables are under row-level security
        bind.execute(sa.text("SELECT set_config('cimhub.scope', 'hub', true)"))
    switches: dict[tuple[int, int], list[tuple[int, Relay]]] = defaultdict(list)
    events = bind.execute(
        sa.text(
            "SELECT tenant_id, meter_id, ts, event_type FROM end_device_event "
            "WHERE event_type IN ('3.31.0.42', '3.31.0.68')"
        )
    )
    for tenant, meter, ts, code in events:
        switches[(tenant, meter)].append((ts, SWITCH_EVENTS[code]))
    kinds = {kind.value: state for kind, state in SWITCH_COMMANDS.items()}
    commands = bind.execute(
        sa.text(
            "SELECT c.tenant_id, c.meter_id, t.at, c.kind FROM end_device_control c "
            "JOIN end_device_control_transition t ON t.command_id = c.id "
            "WHERE c.kind IN ('connect', 'disconnect') AND t.state = 'executed'"
        )
    )
    for tenant, meter, at, kind in commands:
        switches[(tenant, meter)].append((at, kinds[kind]))
    rows = [
        {"tenant_id": tenant, "meter_id": meter, "start": p.start, "end": p.end,
         "state": p.state.value, "derived_at": 0}
        for (tenant, meter), known in switches.items()
        for p in derive_relay(known)
    ]  # fmt: skip
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("meter_relay")
