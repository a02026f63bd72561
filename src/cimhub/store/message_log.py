"""The message log: every message received, its outcome and reply (idempotency, audit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import CursorResult, insert, select, update

from cimhub.store.models import MessageLog

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: Results that answer a repeat of the same message; FAILED ones may be corrected.
ANSWERED = ("OK", "PARTIAL")


class MessageLogRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def record(
        self,
        tenant_id: int,
        *,
        message_key: str,
        source: str,
        verb: str,
        noun: str,
        correlation_id: str | None,
        transport: str,
        size: int,
        raw: bytes | None,
        received_at: int,
    ) -> int:
        """Log a message as received; returns its id for ``complete`` and the readings."""
        return self._uow.session.execute(
            insert(MessageLog).returning(MessageLog.id),
            {
                "tenant_id": tenant_id,
                "message_key": message_key,
                "source": source,
                "verb": verb,
                "noun": noun,
                "correlation_id": correlation_id,
                "transport": transport,
                "size": size,
                "raw": raw,
                "received_at": received_at,
            },
        ).scalar_one()

    def complete(
        self,
        log_id: int,
        *,
        result: str,
        reply_code: str | None,
        reply: bytes | None,
        completed_at: int,
    ) -> None:
        """Store the outcome and the reply bytes sent (None: not kept) for a logged message."""
        self._uow.session.execute(
            update(MessageLog)
            .where(MessageLog.id == log_id)
            .values(result=result, reply_code=reply_code, reply=reply, completed_at=completed_at)
            .execution_options(synchronize_session=False)
        )

    def find_completed(
        self,
        tenant_id: int,
        source: str,
        message_key: str,
    ) -> tuple[str, bytes] | None:
        """(result, reply) of the latest OK or PARTIAL handling of this message, if any."""
        row = self._uow.session.execute(
            select(MessageLog.result, MessageLog.reply)
            .where(
                MessageLog.tenant_id == tenant_id,
                MessageLog.source == source,
                MessageLog.message_key == message_key,
                MessageLog.result.in_(ANSWERED),
            )
            .order_by(MessageLog.completed_at.desc(), MessageLog.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        result, reply = row
        return str(result), bytes(reply or b"")

    def prune_raw(self, older_than: int) -> int:
        """Drop the raw bytes of messages received before ``older_than``; rows stay."""
        outcome = self._uow.session.execute(
            update(MessageLog)
            .where(MessageLog.received_at < older_than, MessageLog.raw.is_not(None))
            .values(raw=None)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(outcome, CursorResult)
        return outcome.rowcount
