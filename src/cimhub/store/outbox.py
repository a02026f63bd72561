"""The transactional outbox: messages to other systems, written with the data, relayed after.

A row is added inside the handler's transaction (an event for subscribers, an asynchronous
reply, a replayed dead letter), so nothing is announced that was not stored and nothing
stored goes unannounced. Rows are inserted at the very end of their transaction, under a
transaction-scoped advisory lock on PostgreSQL (``add``): ids are then handed
out in commit order, and a relay reading rows in id order never lets a later commit
overtake an earlier one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Integer,
    LargeBinary,
    String,
    Text,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId, now
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


#: Serialises the last moment of transactions that write outbox rows (arbitrary, fixed).
COMMIT_ORDER_LOCK_KEY = 61968_104


class OutboxRow(Base):
    __tablename__ = "outbox"
    # Ids are never reused (SQLite would reuse a deleted max rowid): they name messages.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # event | reply | replay | hub
    noun: Mapped[str] = mapped_column(String(100), default="")
    verb: Mapped[str] = mapped_column(String(32), default="")
    message_log_id: Mapped[int | None] = mapped_column(BigInteger)
    address: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[str] = mapped_column(Text, default="{}")
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    relayed_at: Mapped[int | None] = mapped_column(BigInteger)


#: The ``layer`` header of a MeterReadings event whose JSON body holds validated values:
#: ``{"readings": [[kind, meter id, reading type, ts, value, quality], …]}``.
VALIDATED = "validated"


class Kind:
    EVENT = "event"
    REPLY = "reply"
    REPLAY = "replay"
    #: work for one of the hub's own consumers (``address`` names it), after commit
    HUB = "hub"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    tenant_id: int
    kind: str
    noun: str
    verb: str
    message_log_id: int | None
    address: str | None
    headers: dict[str, Any]
    body: bytes | None


class OutboxRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self,
        tenant_id: int,
        kind: str,
        *,
        noun: str = "",
        verb: str = "",
        message_log_id: int | None = None,
        address: str | None = None,
        headers: dict[str, Any] | None = None,
        body: bytes | None = None,
    ) -> None:
        """Add a row when this transaction commits (in commit order, see the module doc)."""
        row = {
            "tenant_id": tenant_id,
            "kind": kind,
            "noun": noun,
            "verb": verb,
            "message_log_id": message_log_id,
            "address": address,
            "headers": json.dumps(headers or {}, default=str),
            "body": body,
            "created_at": now(),
        }
        pending = self._uow.__dict__.setdefault("_outbox_rows", [])
        if not pending:
            event.listen(self._uow.session, "before_commit", self._write, once=True)
        pending.append(row)

    def _write(self, _session: object) -> None:
        rows = self._uow.__dict__.pop("_outbox_rows", [])
        if not rows:
            return
        if self._uow.dialect == "postgresql":
            self._uow.session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": COMMIT_ORDER_LOCK_KEY}
            )
        # A worker's batch may span tenants: each tenant's rows under its own binding
        # (row-level security), in the order they were added within each tenant.
        for tenant_id in dict.fromkeys(r["tenant_id"] for r in rows):
            if not self._uow.hub:
                self._uow.bind_tenant(tenant_id)
            self._uow.session.execute(
                insert(OutboxRow), [r for r in rows if r["tenant_id"] == tenant_id]
            )

    def pending(self, limit: int) -> list[OutboxEntry]:
        """The oldest rows not yet relayed, in commit order."""
        query = select(OutboxRow).where(OutboxRow.relayed_at.is_(None))
        rows = self._uow.session.scalars(query.order_by(OutboxRow.id).limit(limit)).all()
        return [
            OutboxEntry(
                r.id,
                r.tenant_id,
                r.kind,
                r.noun,
                r.verb,
                r.message_log_id,
                r.address,
                json.loads(r.headers or "{}"),
                r.body,
            )
            for r in rows
        ]

    def lock_relay(self, key: int) -> bool:
        """Only one relay at a time on PostgreSQL (order!); SQLite serialises writers anyway."""
        if self._uow.dialect != "postgresql":
            return True
        return bool(
            self._uow.session.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}
            ).scalar()
        )

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._uow.session.execute(
                delete(OutboxRow).where(member_of(OutboxRow.id, set(ids), self._uow.dialect))
            )

    def mark_relayed(self, ids: list[int]) -> None:
        if ids:
            self._uow.session.execute(
                update(OutboxRow)
                .where(member_of(OutboxRow.id, set(ids), self._uow.dialect))
                .values(relayed_at=now())
                .execution_options(synchronize_session=False)
            )

    def reset_relayed(self) -> None:
        """Relay again what a non-durable bus had taken but not delivered (after a restart)."""
        self._uow.session.execute(
            update(OutboxRow)
            .where(OutboxRow.relayed_at.is_not(None))
            .values(relayed_at=None)
            .execution_options(synchronize_session=False)
        )

    def count(self) -> int:
        return int(self._uow.session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


@dataclass(frozen=True, slots=True)
class StoredReading:
    kind: str  # 'interval' | 'register'
    meter_id: int
    reading_type_id: int
    ts: int
    value: float
    quality: str


def stored_by_message(
    uow: UnitOfWork,
    tenant_id: int,
    message_log_id: int,
    meter_ids: list[int],
    first: int,
    last: int,
) -> list[StoredReading]:
    """The readings a message stored, as it stored them (later versions moved aside too).

    Bounded by the message's meters and time range, so the key index does the work.
    """
    from cimhub.store.models import (
        IntervalReading,
        IntervalReadingVersion,
        RegisterReading,
        RegisterReadingVersion,
    )

    if not meter_ids:
        return []
    found: list[StoredReading] = []
    for kind, tables in (
        ("interval", (IntervalReading, IntervalReadingVersion)),
        ("register", (RegisterReading, RegisterReadingVersion)),
    ):
        for table in tables:
            rows = uow.session.execute(
                select(
                    table.meter_id, table.reading_type_id, table.ts, table.value, table.quality
                ).where(
                    table.tenant_id == tenant_id,
                    member_of(table.meter_id, set(meter_ids), uow.dialect),
                    table.ts.between(first, last),
                    table.message_log_id == message_log_id,
                )
            )
            found.extend(StoredReading(kind, *row) for row in rows)
    found.sort(key=lambda r: (r.meter_id, r.reading_type_id, r.ts))
    return found
