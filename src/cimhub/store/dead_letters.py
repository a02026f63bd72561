"""Dead letters: messages given up after their retries, with the reason, kept for replay."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId, now

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


class DeadLetterRow(Base):
    __tablename__ = "dead_letter"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    queue: Mapped[str] = mapped_column(String(200))  # where it failed, and where replay sends it
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    headers: Mapped[str] = mapped_column(Text, default="{}")
    properties: Mapped[str] = mapped_column(Text, default="{}")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    dead_at: Mapped[int] = mapped_column(BigInteger, default=now)
    replayed_at: Mapped[int | None] = mapped_column(BigInteger)
    replay_count: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    queue: str
    reason: str
    attempts: int
    headers: dict[str, Any]
    properties: dict[str, Any]
    body: bytes
    dead_at: int
    replayed_at: int | None
    replay_count: int

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "queue": self.queue,
            "reason": self.reason,
            "attempts": self.attempts,
            "dead_at": self.dead_at,
            "replayed_at": self.replayed_at,
            "size": len(self.body),
        }


def _of(r: DeadLetterRow) -> DeadLetter:
    return DeadLetter(
        r.id,
        r.queue,
        r.reason,
        r.attempts,
        json.loads(r.headers or "{}"),
        json.loads(r.properties or "{}"),
        bytes(r.body),
        r.dead_at,
        r.replayed_at,
        r.replay_count,
    )


class DeadLetterRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self,
        *,
        queue: str,
        reason: str,
        attempts: int,
        headers: dict[str, Any],
        properties: dict[str, Any],
        body: bytes,
    ) -> int:
        row = DeadLetterRow(
            queue=queue,
            reason=reason,
            attempts=attempts,
            headers=json.dumps(headers, default=str),
            properties=json.dumps(properties, default=str),
            body=body,
            dead_at=now(),
            replay_count=0,
        )
        self._uow.session.add(row)
        self._uow.session.flush()
        return row.id

    def list(self, *, include_replayed: bool = False, limit: int = 100) -> list[DeadLetter]:
        query = select(DeadLetterRow).order_by(DeadLetterRow.id).limit(limit)
        if not include_replayed:
            query = query.where(DeadLetterRow.replayed_at.is_(None))
        return [_of(r) for r in self._uow.session.scalars(query)]

    def get(self, letter_id: int, *, for_update: bool = False) -> DeadLetter | None:
        query = select(DeadLetterRow).where(DeadLetterRow.id == letter_id)
        if for_update and self._uow.dialect == "postgresql":
            query = query.with_for_update()
        row = self._uow.session.scalars(query).first()
        return _of(row) if row else None

    def mark_replayed(self, letter_id: int) -> None:
        self._uow.session.execute(
            update(DeadLetterRow)
            .where(DeadLetterRow.id == letter_id)
            .values(replayed_at=now(), replay_count=DeadLetterRow.replay_count + 1)
            .execution_options(synchronize_session=False)
        )
