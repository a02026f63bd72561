"""Dead letters: stored with their reason and attempts; replayed once, through the outbox.

Each is kept as its tenant's (the one its headers name, see ``store.dead_letters.owner``).
Listing, showing and replaying are the hub operator's: every tenant's letters, or with
``tenant`` one tenant's only, read and changed in that tenant's scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cimhub.bus import topology
from cimhub.bus.broker import Broker, BusMessage
from cimhub.bus.metrics import Metrics
from cimhub.errors import DomainRuleError, UnknownObjectError
from cimhub.store.audit import AuditLog
from cimhub.store.database import Database
from cimhub.store.dead_letters import EVERY_TENANT, DeadLetter, DeadLetterRepository
from cimhub.store.outbox import Kind, OutboxRepository
from cimhub.store.unit_of_work import UnitOfWork

#: Headers that described the failure; a replay starts afresh without them.
_FAILURE_HEADERS = (
    topology.H_REASON,
    topology.H_QUEUE,
    topology.H_ATTEMPTS,
    topology.H_OUTBOX_ID,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)


def record(database: Database, message: BusMessage) -> int:
    """Store a dead-lettered message (from the DLX, or the in-process bus)."""
    h = message.headers
    reason = str(h.get(topology.H_REASON) or h.get("x-first-death-reason") or "rejected")
    queue = str(h.get(topology.H_QUEUE) or h.get("x-first-death-queue") or message.routing_key)
    with database.unit_of_work(hub=True) as uow:
        letters = DeadLetterRepository(uow)
        return letters.add(
            tenant_id=letters.owner_of(h),
            queue=queue,
            reason=reason,
            attempts=int(h.get(topology.H_ATTEMPTS, 0) or 0),
            headers={k: v for k, v in h.items() if k != "x-death"},
            properties={"reply_to": message.reply_to, "correlation_id": message.correlation_id},
            body=message.body,
        )


def dead_letter(
    broker: Broker,
    message: BusMessage,
    *,
    queue: str,
    reason: str,
    attempts: int,
    headers: dict[str, Any],
    metrics: Metrics,
) -> None:
    """Publish ``message`` to the dead-letter exchange with the reason, the attempts and
    the queue it died in (``headers``: the ones it keeps), and count it."""
    broker.publish(
        message.body,
        exchange=topology.DLX.name,
        routing_key=queue,
        headers={
            **headers,
            topology.H_REASON: reason[:1000],
            topology.H_ATTEMPTS: attempts,
            topology.H_QUEUE: queue,
        },
        reply_to=message.reply_to,
        correlation_id=message.correlation_id,
    )
    metrics.dead_letters.labels(queue).inc()


def replay(
    database: Database,
    letter_id: int,
    *,
    force: bool = False,
    actor: str = "cimhub",
    tenant: str | None = None,
) -> bool:
    """Send a dead letter (of ``tenant``, when named) back to its queue once; False if it
    was already replayed.

    The replay is an outbox row written in the same transaction that marks the letter and
    audits the replay, so running replay twice (or crashing half-way) never sends it twice.
    """
    with letters_of(database, tenant) as (uow, tenant_id):
        letters = DeadLetterRepository(uow)
        letter = letters.get(letter_id, tenant_id, for_update=True)
        if letter is None:
            raise UnknownObjectError(f"no dead letter {letter_id}", object_id=str(letter_id))
        if letter.replayed_at is not None and not force:
            return False
        if not letter.queue:
            raise DomainRuleError(f"dead letter {letter_id} names no queue to replay to")
        headers = {k: v for k, v in letter.headers.items() if k not in _FAILURE_HEADERS}
        headers["_properties"] = letter.properties
        OutboxRepository(uow).add(
            letter.tenant_id or 0, Kind.REPLAY, address=letter.queue, headers=headers,
            body=letter.body,
        )  # fmt: skip
        letters.mark_replayed(letter_id, tenant_id)
        owner = uow.tenants.code_of(letter.tenant_id) if letter.tenant_id else None
        AuditLog(uow).record(actor, "dead_letter.replay", f"dead_letter:{letter_id}",
                             tenant=owner, after={"queue": letter.queue})  # fmt: skip
    return True


def list_letters(
    database: Database, *, include_replayed: bool = False, tenant: str | None = None
) -> list[DeadLetter]:
    """Every tenant's dead letters and the hub's, or with ``tenant`` that tenant's only."""
    with letters_of(database, tenant) as (uow, tenant_id):
        return DeadLetterRepository(uow).list(tenant_id, include_replayed=include_replayed)


def get_letter(
    database: Database, letter_id: int, *, tenant: str | None = None
) -> DeadLetter | None:
    with letters_of(database, tenant) as (uow, tenant_id):
        return DeadLetterRepository(uow).get(letter_id, tenant_id)


@contextmanager
def letters_of(database: Database, tenant: str | None) -> Iterator[tuple[UnitOfWork, int]]:
    """A unit of work for dead letters: hub-wide (``tenant`` None), or in the scope of the
    tenant with code ``tenant`` (an unknown code is an error, not an empty list); and the
    tenant id to pass ``DeadLetterRepository``."""
    if tenant is None:
        with database.unit_of_work(hub=True) as uow:
            yield uow, EVERY_TENANT
        return
    with database.unit_of_work() as uow:
        tenant_id = uow.tenants.find(tenant)
        if tenant_id is None:
            raise UnknownObjectError(f"no tenant {tenant!r}", object_id=tenant)
        uow.bind_tenant(tenant_id)
        yield uow, tenant_id
