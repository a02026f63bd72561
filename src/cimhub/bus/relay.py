"""The outbox relay: after commit, rows become messages on the bus, in outbox order.

One relay at a time (an advisory lock on PostgreSQL) reads the oldest rows and publishes
each, with publisher confirms, to its queue: an event to its subscription's queue, an
async reply to ``cimhub.replies`` (or straight to an ``amqp:<queue>`` reply address), work for
one of the hub's own consumers to ``cimhub.replies`` too (header ``cimhub-consumer``), a
replayed dead letter back to the queue it died in. On a durable broker the rows are
deleted in the same transaction once published; on the in-process bus they are only
marked, and the consumer deletes each when it is done (so a restart relays them again).
A crash between publish and commit publishes a row twice: subscription deliveries are
deduplicated by event id, handlers by MessageID.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import select

from cimhub.bus import topology
from cimhub.bus.broker import Broker
from cimhub.bus.events import event_id, render_event
from cimhub.errors import CimHubError
from cimhub.store.database import Database
from cimhub.store.outbox import Kind, OutboxEntry, OutboxRepository, OutboxRow
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.store.unit_of_work import UnitOfWork

log = logging.getLogger("cimhub.relay")
#: Advisory lock key of the one relay (arbitrary, fixed).
RELAY_LOCK_KEY = 61968_103
BATCH = 200
AMQP_ADDRESS = "amqp:"


class Relay:
    def __init__(
        self,
        database: Database,
        broker: Broker,
        *,
        interval: float = 0.5,
        on_queue: Callable[[str], None] = lambda _q: None,
        on_published: Callable[[int], None] = lambda _n: None,
    ) -> None:
        self.database = database
        self.broker = broker
        self.interval = interval
        self._on_queue = on_queue  # a subscription queue is about to get messages
        self._on_published = on_published
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        if not self.broker.durable:
            with self.database.unit_of_work(hub=True) as uow:
                OutboxRepository(uow).reset_relayed()
        while not stop.is_set():
            try:
                moved = self.relay_once()
            except CimHubError as exc:
                log.warning("outbox relay paused: %s", exc.reason)
                moved = 0
            except Exception:
                log.exception("outbox relay failed")
                moved = 0
            if moved < BATCH:
                self._wake.wait(self.interval)
                self._wake.clear()

    def _anything_pending(self) -> bool:
        with self.database.engine.connect() as connection:
            return (
                connection.execute(
                    select(OutboxRow.id).where(OutboxRow.relayed_at.is_(None)).limit(1)
                ).first()
                is not None
            )

    def relay_once(self) -> int:
        """Publish the oldest pending rows; the number published."""
        try:
            if not self._anything_pending():
                return 0
        except Exception as exc:
            raise CimHubError(f"outbox unreadable: {exc}") from exc
        with self.database.unit_of_work(hub=True) as uow:
            outbox = OutboxRepository(uow)
            if not outbox.lock_relay(RELAY_LOCK_KEY):
                return 0
            entries = outbox.pending(BATCH)
            if not entries:
                return 0
            subs = {s.name: s for s in SubscriptionRepository(uow).all()}
            consumed, finished = [], []
            for entry in entries:
                (consumed if self._publish(uow, entry, subs) else finished).append(entry.id)
            if self.broker.durable:
                outbox.remove(consumed + finished)
            else:
                outbox.mark_relayed(consumed)
                outbox.remove(finished)
        self._on_published(len(entries))
        return len(entries)

    def _publish(self, uow: UnitOfWork, entry: OutboxEntry, subs: dict[str, Subscription]) -> bool:
        """Publish one row; True when a hub consumer will take the message (and the row)."""
        headers: dict[str, object] = {topology.H_OUTBOX_ID: entry.id, topology.H_ATTEMPTS: 0}
        if entry.tenant_id:  # 0: the hub's own row
            headers[topology.H_TENANT_ID] = entry.tenant_id
        if entry.kind == Kind.EVENT:
            return self._event(uow, entry, subs.get(entry.address or ""), headers)
        if entry.kind == Kind.HUB:  # the hub's own consumers are reached like replies
            headers[topology.H_CONSUMER] = entry.address or ""
            self._on_queue(topology.REPLIES)
            self.broker.publish(entry.body or b"", routing_key=topology.REPLIES, headers=headers)
            return True
        if entry.kind == Kind.REPLY:
            address = entry.address or ""
            if address.startswith(AMQP_ADDRESS):
                self.broker.publish(
                    entry.body or b"",
                    routing_key=address[len(AMQP_ADDRESS) :].lstrip("/"),
                    headers=headers,
                    correlation_id=entry.headers.get("correlation_id"),
                )
                return False
            headers[topology.H_ADDRESS] = address
            self._on_queue(topology.REPLIES)
            self.broker.publish(entry.body or b"", routing_key=topology.REPLIES, headers=headers)
            return True
        if entry.kind == Kind.REPLAY:
            queue = entry.address or ""
            self._on_queue(queue)
            props = entry.headers.pop("_properties", {}) or {}
            self.broker.publish(
                entry.body or b"",
                routing_key=queue,
                headers={**entry.headers, **headers},
                reply_to=props.get("reply_to"),
                correlation_id=props.get("correlation_id"),
            )
            return True
        log.error("outbox row %s has unknown kind %r; dropped", entry.id, entry.kind)
        return False

    def _event(
        self,
        uow: UnitOfWork,
        entry: OutboxEntry,
        sub: Subscription | None,
        headers: dict[str, object],
    ) -> bool:
        if sub is None or not sub.active:
            return False  # the subscription went away: nothing to deliver
        body = render_event(uow, entry, sub)
        if body is None:
            return False
        queue = topology.SUBSCRIPTION_PREFIX + sub.name
        self._on_queue(queue)
        headers[topology.H_EVENT_ID] = event_id(entry)
        headers[topology.H_SUBSCRIPTION] = sub.name
        self.broker.publish(body, routing_key=queue, headers=headers)
        return True
