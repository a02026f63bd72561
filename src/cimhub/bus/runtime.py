"""The bus of one process, wired: broker, dispatcher, outbox relay, deliveries, metrics.

* embedded (``memory://``, the default): handlers run in-process in the caller's thread
  (SQLite has one writer, so competing consumers would add nothing, and a direct call
  keeps synchronous replies exact and cheap); the outbox relay and the delivery consumers
  run as threads on in-process queues, dead letters go straight to the store.
* ``amqp://…``: ``cimhub serve`` only accepts, validates, publishes and replies;
  ``cimhub worker`` runs the handlers, the relay and the deliveries.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from kombu import Queue

from cimhub.bus import topology
from cimhub.bus.broker import MemoryBroker, make_broker
from cimhub.bus.credentials import CredentialBox
from cimhub.bus.dead_letter import record
from cimhub.bus.delivery import DeliveryService
from cimhub.bus.dispatch import BusDispatcher, ReplyListener
from cimhub.bus.embedded import BoundedDispatcher
from cimhub.bus.metrics import Metrics
from cimhub.bus.outbox import OutboxAnnouncer
from cimhub.bus.pipeline import Pipeline
from cimhub.bus.relay import Relay
from cimhub.bus.worker import Worker
from cimhub.errors import TechnicalError
from cimhub.handlers import finding_exceptions as findings
from cimhub.handlers.registry import Registry
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.store.outbox import OutboxRepository
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.store.unit_of_work import UnitOfWork

log = logging.getLogger("cimhub.bus")


class Bus:
    def __init__(
        self, settings: Settings, database: Database, registry: Registry, pipeline: Pipeline
    ) -> None:
        self.settings = settings
        self.database = database
        self.registry = registry
        self.pipeline = pipeline
        self.broker = make_broker(
            settings.broker_url, publish_retry_seconds=settings.publish_retry_seconds
        )
        self.embedded = isinstance(self.broker, MemoryBroker)
        self.metrics = Metrics()
        self.credentials = CredentialBox.of(settings)
        self.deliveries = DeliveryService(
            database,
            self.broker,
            self.metrics,
            credentials=self.credentials,
            max_attempts=settings.retry_max_attempts,
            backoff_seconds=settings.retry_backoff_seconds,
            backoff_max_seconds=settings.retry_backoff_max_seconds,
            timeout=settings.delivery_timeout_seconds,
        )
        self.relay = Relay(
            database,
            self.broker,
            interval=settings.relay_interval_seconds,
            on_queue=self._on_queue,
        )
        self.announcer = OutboxAnnouncer(
            on_written=self.relay.wake, vee_enabled=settings.vee_enabled
        )
        pipeline.announcer = self.announcer
        self.deliveries.add_consumer(findings.NAME, findings.consumer(database, settings))
        self.replies: ReplyListener | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.metrics.watch(self._depths, self._gauges)
        self.metrics.watch_stages(pipeline.clock)
        if isinstance(self.broker, MemoryBroker):
            self.broker.on_dead = lambda message: record(database, message) and None

    # -- roles ---------------------------------------------------------------------------

    def start_serving(self) -> None:
        """Inside `cimhub serve`: in-process relay and deliveries, or publish-and-wait."""
        self.load_subscriptions_file()
        if self.embedded:
            self._spawn("cimhub-relay", self.relay.run)
            self.pipeline.dispatcher = BoundedDispatcher(
                self.pipeline, self.settings.reply_wait_seconds
            )
            return
        try:
            self.declare()
        except TechnicalError as exc:  # serve anyway: /readyz says so, publishers back off
            log.warning("broker not reachable at start (%s); declaring on reconnect", exc.reason)
        self.replies = ReplyListener(self.broker, self._core_queues())
        self.replies.start()
        self.pipeline.dispatcher = BusDispatcher(
            self.pipeline, self.broker, self.replies, self.settings.reply_wait_seconds
        )

    def run_worker(self, stop: threading.Event | None = None) -> None:
        """`cimhub worker`: consume until ``stop`` (or this bus's stop) is set."""
        if self.embedded:
            raise RuntimeError("cimhub worker needs a broker: set CIMHUB_BROKER_URL=amqp://…")
        stop = stop or self._stop
        self.load_subscriptions_file()
        self._spawn("cimhub-relay", self.relay.run)
        try:
            self.deliveries.start_all()
        except TechnicalError as exc:  # the relay starts them when it has something to send
            log.warning("delivery consumers not started yet: %s", exc.reason)
        Worker(self.settings, self.pipeline, self.broker, self.metrics).run(stop)

    def declare(self) -> None:
        self.broker.declare(self._core_queues())

    def _core_queues(self) -> list[Queue]:
        return topology.core_queues(self.registry.supported())

    def stop(self) -> None:
        self._stop.set()
        if isinstance(self.pipeline.dispatcher, BoundedDispatcher):
            self.pipeline.dispatcher.close()
        self.relay.wake()
        self.deliveries.stop()
        if self.replies is not None:
            self.replies.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        self.broker.close()

    # -- subscriptions ---------------------------------------------------------------------

    def put_subscription(self, sub: Subscription, *, as_tenant: str | None = None) -> Subscription:
        """Create or replace a subscription, its credentials sealed (5.2 without a key):
        hub-wide, or (``as_tenant``) in that tenant's scope, where only its own are."""
        sealed = replace(sub, credentials=self.credentials.seal(sub.credentials))
        with self._scope(as_tenant, create=True) as (uow, _tenant_id):
            saved = SubscriptionRepository(uow).put(sealed)
        self.announcer.invalidate()
        return saved

    def remove_subscription(self, name: str, *, as_tenant: str | None = None) -> bool:
        """Remove a subscription: any (hub-wide), or only ``as_tenant``'s own."""
        with self._scope(as_tenant) as (uow, tenant_id):
            removed = tenant_id != 0 and SubscriptionRepository(uow).remove(name, tenant_id)
        self.announcer.invalidate()
        return removed

    def subscriptions(self, *, as_tenant: str | None = None) -> list[Subscription]:
        """Every subscription, or those ``as_tenant`` sees (its own and the hub's)."""
        with self._scope(as_tenant) as (uow, tenant_id):
            if tenant_id is None:
                return SubscriptionRepository(uow).all()
            return SubscriptionRepository(uow).for_tenant(tenant_id) if tenant_id else []

    @contextmanager
    def _scope(
        self, tenant: str | None, *, create: bool = False
    ) -> Iterator[tuple[UnitOfWork, int | None]]:
        """A unit of work hub-wide (tenant id None) or bound to ``tenant`` (0: unknown)."""
        if tenant is None:
            with self.database.unit_of_work(hub=True) as uow:
                yield uow, None
            return
        with self.database.unit_of_work() as uow:
            tenant_id = uow.tenants.ensure(tenant) if create else uow.tenants.find(tenant)
            if tenant_id:
                uow.bind_tenant(tenant_id)
            yield uow, tenant_id or 0

    def load_subscriptions_file(self) -> None:
        path = self.settings.subscriptions_file
        if not path:
            return
        for item in json.loads(Path(path).read_text(encoding="utf-8")):
            self.put_subscription(subscription_of(item))

    # -- health and metrics ---------------------------------------------------------------

    def ping(self) -> bool:
        return self.broker.ping()

    def _depths(self) -> dict[str, tuple[int, int]]:
        queues = [q.name for q in topology.core_queues(self.registry.supported())]
        queues += [topology.SUBSCRIPTION_PREFIX + s.name for s in self.subscriptions()]
        return self.broker.depths(queues)

    def _gauges(self) -> dict[str, float]:
        from cimhub.store.dead_letters import EVERY_TENANT, DeadLetterRepository

        with self.database.unit_of_work(hub=True) as uow:
            return {
                "cimhub_outbox_pending": OutboxRepository(uow).count(),
                "cimhub_dead_letters_stored": len(
                    DeadLetterRepository(uow).list(EVERY_TENANT, limit=10_000)
                ),
            }

    # -- internals -------------------------------------------------------------------------

    def _on_queue(self, queue: str) -> None:
        """The relay is about to publish to ``queue``: make sure it exists and is consumed."""
        if queue.startswith(topology.SUBSCRIPTION_PREFIX) or queue == topology.REPLIES:
            self.deliveries.ensure(queue)

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()


def subscription_of(item: dict[str, Any]) -> Subscription:
    """A Subscription from its JSON form (REST body or subscriptions file)."""
    verbs = item.get("verbs") or ["created"]
    return Subscription(
        name=str(item["name"]),
        noun=str(item["noun"]),
        verbs=tuple(verbs.split() if isinstance(verbs, str) else verbs),
        address=str(item["address"]),
        tenant=item.get("tenant"),
        reading_types=tuple(item.get("reading_types") or ()),
        event_types=tuple(item.get("event_types") or ()),
        protocol=str(item.get("protocol") or "http"),
        credentials=item.get("credentials"),
        max_attempts=int(item.get("max_attempts") or 5),
        backoff_seconds=float(item.get("backoff_seconds") or 1.0),
        active=bool(item.get("active", True)),
    )
