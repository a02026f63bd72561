"""Dead letters: messages given up after their retries, with the reason, kept for replay.

A dead letter belongs to the tenant its message was for (``tenant_id``, 0009): its body is
that tenant's data. One whose tenant is unknown is the hub's (NULL). Under row-level
security a tenant's scope sees and changes its own only; the hub's only hub-wide units of
work do. On SQLite the repository's explicit ``tenant_id`` filters do the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId, Tenant, now
from cimhub.store.subscriptions import SubscriptionRow

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


class DeadLetterRow(Base):
    __tablename__ = "dead_letter"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(  # the message's tenant, None: the hub's
        ForeignKey("tenant.id", name="fk_dead_letter_tenant"), index=True
    )
    queue: Mapped[str] = mapped_column(String(200))  # where it failed, and where replay sends it
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    headers: Mapped[str] = mapped_column(Text, default="{}")
    properties: Mapped[str] = mapped_column(Text, default="{}")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    dead_at: Mapped[int] = mapped_column(BigInteger, default=now)
    replayed_at: Mapped[int | None] = mapped_column(BigInteger)
    replay_count: Mapped[int] = mapped_column(Integer, default=0)


#: Headers naming a dead letter's tenant by code: the bus's (``topology.H_TENANT``) and
#: an MQTT letter's (``mqtt_dead_letter.TENANT``).
TENANT_HEADERS = ("cimhub-tenant", "tenant")
#: The tenant id of the outbox row a relayed message came from (``topology.H_TENANT_ID``).
TENANT_ID_HEADER = "cimhub-tenant-id"
#: The subscription an undeliverable event was for (``topology.H_SUBSCRIPTION``).
SUBSCRIPTION_HEADER = "cimhub-subscription"
#: ``list``/``get`` over every tenant's letters and the hub's (hub-wide units of work).
EVERY_TENANT = -1


@dataclass(frozen=True, slots=True)
class Tenants:
    """How ``owner`` learns tenants: by code, whether an id is one, by subscription name."""

    of_code: Callable[[str], int | None]
    exists: Callable[[int], bool]
    of_subscription: Callable[[str], int | None]


def owner(headers: Mapping[str, Any], tenants: Tenants) -> int | None:
    """The tenant a dead letter's headers name (by code, by id, or as its subscription's
    owner), or None (the hub's) when they name none the hub knows."""
    for name in TENANT_HEADERS:
        code = str(headers.get(name) or "").strip()
        if code:
            return tenants.of_code(code)
    named = str(headers.get(TENANT_ID_HEADER) or "").strip()
    if named.isdigit() and tenants.exists(int(named)):
        return int(named)
    subscription = str(headers.get(SUBSCRIPTION_HEADER) or "").strip()
    return tenants.of_subscription(subscription) if subscription else None


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
    tenant_id: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
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
        r.tenant_id,
    )


class DeadLetterRepository:
    """Dead letters; every call names the tenant whose letters it means: a tenant's id,
    None for the hub's own, or ``EVERY_TENANT`` (hub-wide units of work only)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def owner_of(self, headers: Mapping[str, Any]) -> int | None:
        """The tenant whose letter a message with these headers is (see ``owner``)."""
        tenants = Tenants(self._uow.tenants.find, self._tenant_exists, self._subscription_tenant)
        return owner(headers, tenants)

    def add(
        self,
        *,
        tenant_id: int | None,
        queue: str,
        reason: str,
        attempts: int,
        headers: dict[str, Any],
        properties: dict[str, Any],
        body: bytes,
    ) -> int:
        row = DeadLetterRow(
            tenant_id=tenant_id,
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

    def list(
        self, tenant_id: int | None, *, include_replayed: bool = False, limit: int = 100
    ) -> list[DeadLetter]:
        query = _of_tenant(select(DeadLetterRow), tenant_id).order_by(DeadLetterRow.id)
        if not include_replayed:
            query = query.where(DeadLetterRow.replayed_at.is_(None))
        return [_of(r) for r in self._uow.session.scalars(query.limit(limit))]

    def get(
        self, letter_id: int, tenant_id: int | None, *, for_update: bool = False
    ) -> DeadLetter | None:
        query = _of_tenant(select(DeadLetterRow).where(DeadLetterRow.id == letter_id), tenant_id)
        if for_update and self._uow.dialect == "postgresql":
            query = query.with_for_update()
        row = self._uow.session.scalars(query).first()
        return _of(row) if row else None

    def mark_replayed(self, letter_id: int, tenant_id: int | None) -> bool:
        """Count a replay of ``tenant_id``'s letter; False when it has no such letter."""
        changed = self._uow.session.execute(
            _of_tenant(update(DeadLetterRow), tenant_id)  # type: ignore[arg-type]
            .where(DeadLetterRow.id == letter_id)
            .values(replayed_at=now(), replay_count=DeadLetterRow.replay_count + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(changed.rowcount)  # type: ignore[attr-defined]

    def _tenant_exists(self, tenant_id: int) -> bool:
        return self._uow.session.get(Tenant, tenant_id) is not None

    def _subscription_tenant(self, name: str) -> int | None:
        return self._uow.session.scalar(
            select(SubscriptionRow.tenant_id).where(SubscriptionRow.name == name)
        )


def _of_tenant(query: Any, tenant_id: int | None) -> Any:
    """``query`` narrowed to ``tenant_id``'s letters (None: the hub's own)."""
    if tenant_id == EVERY_TENANT:
        return query
    if tenant_id is None:
        return query.where(DeadLetterRow.tenant_id.is_(None))
    return query.where(DeadLetterRow.tenant_id == tenant_id)
