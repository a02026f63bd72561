"""The message log's raw bytes and replies are compressed with lz4 where PostgreSQL has it.

Every message's bytes are kept (raw retention) and TOASTed: PostgreSQL's default (pglz)
took 5.5 ms to store a worker's batch of 64 one-meter messages (10 kB each) here, lz4
2.4 ms, for ~20 % more disk (BENCHMARKS.md, round 6). Rows already stored keep theirs.
SQLite: nothing to do.

Revision ID: 0011_message_log_lz4
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision: str = "0011_message_log_lz4"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

HAS_LZ4 = "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"


def _compression(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not bind.exec_driver_sql(HAS_LZ4).scalar():
        return
    for column in ("raw", "reply"):
        op.execute(f"ALTER TABLE message_log ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _compression("lz4")


def downgrade() -> None:
    _compression("pglz")
