"""Delivering outbound messages to other systems: subscriptions' events and async replies.

HTTP goes through ``requests`` (as zeep's SOAP does), so tests mock both with ``responses``.

One consumer thread per queue (``cimhub.sub.<name>``, ``cimhub.replies``), so a slow or
failing subscriber holds up only its own queue, never ingest or another subscriber. A
message is retried in place with exponential back-off (keeping its subscription's order),
then dead-lettered with the reason and the attempt count; only then is it acked.
Deliveries are recorded per (subscription, event id): a redelivered or replayed event
that already reached its subscriber is not sent again.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from lxml import etree

from cimhub.bus import topology
from cimhub.bus.broker import Broker, BusMessage
from cimhub.bus.credentials import CredentialBox
from cimhub.bus.dead_letter import dead_letter
from cimhub.bus.metrics import Metrics
from cimhub.errors import CimHubError
from cimhub.message import ns
from cimhub.store.database import Database
from cimhub.store.outbox import OutboxRepository
from cimhub.store.subscriptions import Subscription, SubscriptionRepository

log = logging.getLogger("cimhub.delivery")
SOAP_PREFIX = "soap+"
#: One of the hub's own consumers: takes a message's body, raises if it could not.
Consumer = Callable[[bytes], None]


class DeliveryError(Exception):
    """The receiving system did not take the message."""


@dataclass(frozen=True, slots=True)
class Target:
    address: str
    protocol: str = "http"  # http | soap | amqp | hub
    credentials: str | None = field(default=None, repr=False)  # opened: never log them

    @classmethod
    def of_address(cls, address: str) -> Target:
        """A ReplyAddress: ``http(s)://…``, ``soap+http(s)://…`` (SOAP 1.1) or ``amqp:<queue>``."""
        if address.startswith(SOAP_PREFIX):
            return cls(address[len(SOAP_PREFIX) :], "soap")
        if address.startswith("amqp:"):
            return cls(address[len("amqp:") :].lstrip("/"), "amqp")
        return cls(address, "http")


class Deliverer:
    """Sends one message to one target; raises DeliveryError unless it was taken."""

    def __init__(self, broker: Broker, timeout: float = 10.0) -> None:
        self.broker = broker
        self.timeout = timeout
        self.consumers: dict[str, Consumer] = {}  #: the hub's own, by name

    def deliver(self, target: Target, body: bytes, headers: dict[str, object]) -> None:
        try:
            if target.protocol == "hub":
                self._hub(target.address, body)
            elif target.protocol == "amqp":
                self.broker.publish(body, routing_key=target.address, headers=headers)
            elif target.protocol == "soap":
                self._soap(target, body)
            else:
                self._http(target, body)
        except CimHubError as exc:
            raise DeliveryError(exc.reason) from exc
        except DeliveryError:
            raise
        except Exception as exc:  # whatever the client library raised: the target failed
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc

    def _hub(self, name: str, body: bytes) -> None:
        consumer = self.consumers.get(name)
        if consumer is None:
            raise DeliveryError(f"no hub consumer {name!r} in this process")
        consumer(body)

    def _auth_headers(self, target: Target) -> dict[str, str]:
        cred = target.credentials
        if not cred:
            return {}
        if cred.lower().startswith(("bearer ", "basic ")):
            return {"Authorization": cred}
        return {"Authorization": "Basic " + base64.b64encode(cred.encode()).decode()}

    def _http(self, target: Target, body: bytes) -> None:
        response = requests.post(
            target.address,
            data=body,
            headers={"Content-Type": "application/xml", **self._auth_headers(target)},
            timeout=self.timeout,
        )
        if response.status_code >= 300:
            raise DeliveryError(f"HTTP {response.status_code} from {target.address}")

    def _soap(self, target: Target, body: bytes) -> None:
        from zeep.transports import Transport

        envelope = etree.Element(ns.qname(ns.SOAP11, "Envelope"), nsmap={"soapenv": ns.SOAP11})
        etree.SubElement(envelope, ns.qname(ns.SOAP11, "Body")).append(
            etree.fromstring(body, etree.XMLParser(resolve_entities=False))
        )
        transport = Transport(timeout=self.timeout, operation_timeout=self.timeout)
        if target.credentials and ":" in target.credentials:
            transport.session.auth = tuple(target.credentials.split(":", 1))
        response = transport.post_xml(
            target.address,
            envelope,
            {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        )
        if response.status_code >= 300:
            raise DeliveryError(f"SOAP HTTP {response.status_code} from {target.address}")


class DeliveryService:
    """Runs the delivery consumers: one thread per subscription queue, one for replies."""

    def __init__(
        self,
        database: Database,
        broker: Broker,
        metrics: Metrics,
        *,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
        timeout: float = 10.0,
        credentials: CredentialBox | None = None,
    ) -> None:
        self.database = database
        self.credentials = credentials or CredentialBox(None)
        self.broker = broker
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.backoff = backoff_seconds
        self.backoff_max = backoff_max_seconds
        self.deliverer = Deliverer(broker, timeout)
        self._stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def add_consumer(self, name: str, consumer: Consumer) -> None:
        """One of the hub's own consumers, for outbox rows of kind ``hub`` addressed to it."""
        self.deliverer.consumers[name] = consumer

    def ensure(self, queue: str) -> None:
        """Start the consumer of a queue if it is not running (idempotent, cheap)."""
        with self._lock:
            if queue in self._threads or self._stop.is_set():
                return
            if queue.startswith(topology.SUBSCRIPTION_PREFIX):
                self.broker.declare(
                    [topology.subscription_queue(queue[len(topology.SUBSCRIPTION_PREFIX) :])]
                )
            thread = threading.Thread(
                target=self._consume, args=(queue,), name=f"deliver-{queue}", daemon=True
            )
            self._threads[queue] = thread
            thread.start()

    def start_all(self) -> None:
        """Consumers for the replies queue and every subscription (workers call this)."""
        self.ensure(topology.REPLIES)
        with self.database.unit_of_work(hub=True) as uow:
            names = [s.name for s in SubscriptionRepository(uow).all()]
        for name in names:
            self.ensure(topology.SUBSCRIPTION_PREFIX + name)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout=5)

    def _consume(self, queue: str) -> None:
        self.broker.consume(
            [queue],
            lambda m: self._on_message(queue, m),
            stop=self._stop,
            prefetch=1,
            tick_seconds=0.2,
        )

    def _on_message(self, queue: str, message: BusMessage) -> None:
        """Deliver one message; while the store is away, keep it and try again (in order)."""
        while not self._stop.is_set():
            try:
                self._handle(queue, message)
                return
            except CimHubError as exc:
                log.warning("delivery from %s postponed: %s", queue, exc.reason)
            except Exception:  # a bug must not end the consumer thread
                log.exception("delivery from %s failed unexpectedly", queue)
            self._stop.wait(1.0)

    def _handle(self, queue: str, message: BusMessage) -> None:
        sub_name = message.headers.get(topology.H_SUBSCRIPTION)
        event = str(message.headers.get(topology.H_EVENT_ID) or "")
        sub = self._subscription(str(sub_name)) if sub_name else None
        if sub_name and sub is None:
            log.warning("subscription %s is gone: dropping its event %s", sub_name, event)
            self._finish(message)
            return
        if sub is not None and event and self._already(sub, event):
            self._finish(message)
            return
        target, max_attempts, backoff = self._target(message, sub)
        attempts = message.attempts
        while not self._stop.is_set():
            try:
                self.deliverer.deliver(target, message.body, {})
            except DeliveryError as exc:
                attempts += 1
                label = sub.name if sub else "reply"
                if attempts >= max_attempts:
                    self._dead_letter(queue, message, str(exc), attempts)
                    self.metrics.deliveries.labels(label, "dead").inc()
                    return
                self.metrics.retries.labels(queue).inc()
                delay = min(backoff * 2 ** (attempts - 1), self.backoff_max)
                log.info(
                    "delivery to %s failed (%s); attempt %d in %.1fs",
                    target.address,
                    exc,
                    attempts + 1,
                    delay,
                )
                self._stop.wait(delay)
                continue
            if sub is not None and event:
                with self.database.unit_of_work(hub=True) as uow:
                    SubscriptionRepository(uow).record_delivery(sub.id or 0, event)
            self.metrics.deliveries.labels(sub.name if sub else "reply", "ok").inc()
            self._finish(message)
            return

    def _target(self, message: BusMessage, sub: Subscription | None) -> tuple[Target, int, float]:
        if sub is not None:
            credentials = self.credentials.open(sub.credentials, sub.name)
            target = Target(sub.address, sub.protocol, credentials)
            if sub.protocol == "http":
                target = Target.of_address(sub.address)
                target = Target(target.address, target.protocol, credentials)
            return target, sub.max_attempts, sub.backoff_seconds
        consumer = message.headers.get(topology.H_CONSUMER)
        if consumer:  # set only by the hub's relay, for its own consumers
            return Target(str(consumer), "hub"), self.max_attempts, self.backoff
        address = str(message.headers.get(topology.H_ADDRESS) or "")
        return Target.of_address(address), self.max_attempts, self.backoff

    def _subscription(self, name: str) -> Subscription | None:
        with self.database.unit_of_work(hub=True) as uow:
            return SubscriptionRepository(uow).get(name)

    def _already(self, sub: Subscription, event: str) -> bool:
        with self.database.unit_of_work(hub=True) as uow:
            return SubscriptionRepository(uow).delivered(sub.id or 0, event)

    def _dead_letter(self, queue: str, message: BusMessage, reason: str, attempts: int) -> None:
        log.warning("dead-lettering a message of %s after %d attempts: %s", queue, attempts, reason)
        dead_letter(
            self.broker,
            message,
            queue=queue,
            reason=reason,
            attempts=attempts,
            headers=message.headers,
            metrics=self.metrics,
        )
        self._finish(message)

    def _finish(self, message: BusMessage) -> None:
        """Done with a message: on the in-process bus its outbox row goes too."""
        row = message.headers.get(topology.H_OUTBOX_ID)
        if not self.broker.durable and row is not None:
            with self.database.unit_of_work(hub=True) as uow:
                OutboxRepository(uow).remove([int(row)])
        message.ack()


OnQueue = Callable[[str], None]
