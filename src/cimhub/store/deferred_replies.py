"""Replies that wait for on-demand reads: an asynchronous GetMeterReadings answered 0.3
whose full reply is written once the reads it asked for are over (or at its deadline).

The request is kept whole, so the reply is the query answered when it is sent; the
commands it waits for are the READ commands' ids (migration 0006_reread).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId, now

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


class DeferredReplyRow(Base):
    __tablename__ = "deferred_reply"
    __table_args__ = (Index("ix_deferred_reply_open", "done_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    message_log_id: Mapped[int | None] = mapped_column(BigInteger)
    address: Mapped[str] = mapped_column(Text)  # the request's ReplyAddress
    request: Mapped[bytes] = mapped_column(LargeBinary)  # the request message, whole
    command_ids: Mapped[str] = mapped_column(Text)  # JSON list of READ command ids
    deadline: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    done_at: Mapped[int | None] = mapped_column(BigInteger)
    result_code: Mapped[str | None] = mapped_column(String(16))


@dataclass(frozen=True, slots=True)
class DeferredReply:
    id: int
    tenant_id: int
    message_log_id: int | None
    address: str
    request: bytes
    command_ids: tuple[int, ...]
    deadline: int
    created_at: int


class DeferredReplyRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self,
        tenant_id: int,
        *,
        log_id: int | None,
        address: str,
        request: bytes,
        command_ids: list[int],
        deadline: int,
    ) -> int:
        row = DeferredReplyRow(
            tenant_id=tenant_id,
            message_log_id=log_id,
            address=address,
            request=request,
            command_ids=json.dumps(sorted(set(command_ids))),
            deadline=deadline,
            created_at=now(),
        )
        self._uow.session.add(row)
        self._uow.session.flush()
        return row.id

    def waiting(self, limit: int = 200) -> list[DeferredReply]:
        """Replies not sent yet (every tenant's: the hub-wide sweep), oldest first."""
        rows = self._uow.session.scalars(
            select(DeferredReplyRow)
            .where(DeferredReplyRow.done_at.is_(None))
            .order_by(DeferredReplyRow.id)
            .limit(limit)
        ).all()
        return [_reply(r) for r in rows]

    def claim(self, reply_id: int) -> DeferredReply | None:
        """The reply, locked until commit (PostgreSQL), if nobody sent it meanwhile."""
        query = select(DeferredReplyRow).where(
            DeferredReplyRow.id == reply_id, DeferredReplyRow.done_at.is_(None)
        )
        if self._uow.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = self._uow.session.scalars(query).first()
        return _reply(row) if row is not None else None

    def finish(self, reply_id: int, code: str) -> None:
        self._uow.session.execute(
            update(DeferredReplyRow)
            .where(DeferredReplyRow.id == reply_id)
            .values(done_at=now(), result_code=code)
        )


def _reply(row: DeferredReplyRow) -> DeferredReply:
    return DeferredReply(
        row.id, row.tenant_id, row.message_log_id, row.address, row.request,
        tuple(json.loads(row.command_ids)), row.deadline, row.created_at,
    )  # fmt: skip
