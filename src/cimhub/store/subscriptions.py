"""Subscriptions of external systems to nouns/verbs, and the deliveries already made.

A subscription belongs to the tenant whose events it wants (``tenant_id``, kept beside the
tenant's code that ``Subscription.matches`` compares), or to the hub (NULL: every
tenant's). Tenant-scoped units of work see their own and the hub's, write only their own
(PostgreSQL row-level security, ``row_security.SHARED``; the explicit filters here).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.errors import TechnicalError
from cimhub.store.models import Base, now
from cimhub.store.row_security import TenantScopeError
from cimhub.store.sql import insert_ignore

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: The prefix of sealed (encrypted) credentials; the store keeps no other form.
SEALED = "fernet:"


class SubscriptionRow(Base):
    __tablename__ = "subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    tenant: Mapped[str | None] = mapped_column(String(64))  # a tenant code, or every tenant
    tenant_id: Mapped[int | None] = mapped_column(  # the tenant of that code (0008)
        ForeignKey("tenant.id", name="fk_subscription_tenant"), index=True
    )
    noun: Mapped[str] = mapped_column(String(100))
    verbs: Mapped[str] = mapped_column(String(200))  # space separated
    reading_types: Mapped[str] = mapped_column(Text, default="")  # filter, space separated
    event_types: Mapped[str] = mapped_column(Text, default="")  # filter, space separated
    address: Mapped[str] = mapped_column(Text)
    protocol: Mapped[str] = mapped_column(String(16), default="http")  # http | soap | amqp
    credentials: Mapped[str | None] = mapped_column(Text)  # sealed, see cimhub.bus.credentials
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    backoff_seconds: Mapped[float] = mapped_column(Double, default=1.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)


class DeliveryRow(Base):
    """An event delivered to a subscriber: redeliveries and replays skip it."""

    __tablename__ = "subscription_delivery"

    subscription_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    delivered_at: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    noun: str
    verbs: tuple[str, ...]
    address: str
    tenant: str | None = None
    reading_types: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    protocol: str = "http"
    #: 'user:password' or 'Bearer …' as given; SEALED (encrypted) once stored
    credentials: str | None = field(default=None, repr=False)
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    active: bool = True
    id: int | None = None

    def matches(self, tenant: str, noun: str, verb: str) -> bool:
        return (
            self.active
            and self.noun == noun
            and verb in self.verbs
            and (self.tenant is None or self.tenant == tenant)
        )

    def wants(
        self,
        *,
        reading_types: Iterable[str] | None = None,
        event_types: Iterable[str] | None = None,
    ) -> bool:
        """Whether a message carrying these reading / event types passes the filters: an
        empty filter, or one that does not apply to the message (None), passes it; a set
        one needs at least one of its types."""
        return all(
            not wanted or carried is None or not set(wanted).isdisjoint(carried)
            for wanted, carried in (
                (self.reading_types, reading_types),
                (self.event_types, event_types),
            )
        )

    def public(self) -> dict[str, Any]:
        """Everything but the credentials, for listings."""
        return {
            "id": self.id,
            "name": self.name,
            "tenant": self.tenant,
            "noun": self.noun,
            "verbs": list(self.verbs),
            "reading_types": list(self.reading_types),
            "event_types": list(self.event_types),
            "address": self.address,
            "protocol": self.protocol,
            "max_attempts": self.max_attempts,
            "backoff_seconds": self.backoff_seconds,
            "active": self.active,
            "has_credentials": bool(self.credentials),
        }


def _of(row: SubscriptionRow) -> Subscription:
    return Subscription(
        name=row.name,
        noun=row.noun,
        verbs=tuple(row.verbs.split()),
        address=row.address,
        tenant=row.tenant,
        reading_types=tuple(row.reading_types.split()),
        event_types=tuple(row.event_types.split()),
        protocol=row.protocol,
        credentials=row.credentials,
        max_attempts=row.max_attempts,
        backoff_seconds=row.backoff_seconds,
        active=row.active,
        id=row.id,
    )


class SubscriptionRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def all(self) -> list[Subscription]:
        """Every subscription the unit of work's scope sees (all of them hub-wide)."""
        rows = self._uow.session.scalars(select(SubscriptionRow).order_by(SubscriptionRow.id))
        return [_of(r) for r in rows]

    def for_tenant(self, tenant_id: int) -> list[Subscription]:
        """The subscriptions that may want ``tenant_id``'s events: its own and the hub's."""
        rows = self._uow.session.scalars(
            select(SubscriptionRow)
            .where(or_(SubscriptionRow.tenant_id.is_(None), SubscriptionRow.tenant_id == tenant_id))
            .order_by(SubscriptionRow.id)
        )
        return [_of(r) for r in rows]

    def get(self, name: str, tenant_id: int | None = None) -> Subscription | None:
        """The subscription ``name``; with ``tenant_id``, only if it is that tenant's own."""
        row = self._row(name, tenant_id)
        return _of(row) if row else None

    def put(self, sub: Subscription) -> Subscription:
        """Create or replace the subscription of this name (credentials sealed only), owned
        by the tenant it names; only the hub replaces another owner's."""
        if sub.credentials and not sub.credentials.startswith(SEALED):
            raise TechnicalError(f"subscription {sub.name}: credentials must be sealed first")
        tenant_id = self._uow.tenants.ensure(sub.tenant) if sub.tenant else None
        values = {
            "tenant": sub.tenant,
            "tenant_id": tenant_id,
            "noun": sub.noun,
            "verbs": " ".join(sub.verbs),
            "reading_types": " ".join(sub.reading_types),
            "event_types": " ".join(sub.event_types),
            "address": sub.address,
            "protocol": sub.protocol,
            "credentials": sub.credentials,
            "max_attempts": sub.max_attempts,
            "backoff_seconds": sub.backoff_seconds,
            "active": sub.active,
        }
        session = self._uow.session
        existing = self._row(sub.name)
        if existing is None:
            session.add(SubscriptionRow(name=sub.name, created_at=now(), **values))
            session.flush()
        elif existing.tenant_id != tenant_id and not self._uow.hub:
            raise TenantScopeError(f"subscription {sub.name} is not this tenant's")
        else:
            session.execute(
                update(SubscriptionRow).where(SubscriptionRow.name == sub.name).values(**values)
            )
            session.expire(existing)
        found = self.get(sub.name)
        assert found is not None
        return found

    def remove(self, name: str, tenant_id: int | None = None) -> bool:
        """Remove ``name``; with ``tenant_id``, only if it is that tenant's own."""
        query = delete(SubscriptionRow).where(SubscriptionRow.name == name)
        if tenant_id is not None:
            query = query.where(SubscriptionRow.tenant_id == tenant_id)
        result = self._uow.session.execute(query)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def _row(self, name: str, tenant_id: int | None = None) -> SubscriptionRow | None:
        query = select(SubscriptionRow).where(SubscriptionRow.name == name)
        if tenant_id is not None:
            query = query.where(SubscriptionRow.tenant_id == tenant_id)
        return self._uow.session.scalars(query).first()

    def delivered(self, subscription_id: int, event_id: str) -> bool:
        return (
            self._uow.session.scalar(
                select(DeliveryRow.delivered_at).where(
                    DeliveryRow.subscription_id == subscription_id,
                    DeliveryRow.event_id == event_id,
                )
            )
            is not None
        )

    def record_delivery(self, subscription_id: int, event_id: str) -> None:
        self._uow.session.execute(
            insert_ignore(DeliveryRow, self._uow.dialect, "subscription_id", "event_id"),
            {"subscription_id": subscription_id, "event_id": event_id, "delivered_at": now()},
        )
