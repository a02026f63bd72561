"""Brokers behind one small interface: RabbitMQ through kombu, or an in-process memory one.

``AmqpBroker`` publishes persistent messages with publisher confirms, backing off and
reconnecting while the broker is away (up to ``publish_retry_seconds``, then a
TechnicalError), a batch at once with its confirms awaited together (``publish_all``,
``cimhub.bus.confirms``), and consumes with manual acks, reconnecting after a lost
connection.

``MemoryBroker`` is the embedded default's: named in-process queues, no server. It is not
durable, so the outbox keeps a row until the consumer of its message is done with it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import amqp.exceptions
from amqp.exceptions import MessageNacked
from kombu import Connection, Consumer, Producer, Queue
from kombu.exceptions import KombuError, OperationalError

from cimhub.bus import topology
from cimhub.bus.confirms import ConfirmingPublisher, Outgoing, Unconfirmed
from cimhub.errors import TechnicalError

log = logging.getLogger("cimhub.bus")

#: Errors meaning "the broker connection is gone or unusable" (py-amqp's own included).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    KombuError,
    OperationalError,
    amqp.exceptions.AMQPError,
    amqp.exceptions.ConnectionError,
)
#: How long a batch waits for its confirms before it is published again one by one.
CONFIRM_TIMEOUT_SECONDS = 30.0


@dataclass
class BusMessage:
    """A message taken from a queue; ``ack()`` once its work is committed."""

    body: bytes
    headers: dict[str, Any]
    queue: str
    routing_key: str = ""
    reply_to: str | None = None
    correlation_id: str | None = None
    redelivered: bool = False
    user_id: str | None = None  # the AMQP user_id property (RabbitMQ checks it is the sender)
    _ack: Callable[[], None] = field(default=lambda: None, repr=False)

    def ack(self) -> None:
        try:
            self._ack()
        except CONNECTION_ERRORS:  # the broker will redeliver it; handlers are idempotent
            log.warning("could not ack a message from %s: connection lost", self.queue)

    @property
    def attempts(self) -> int:
        return int(self.headers.get(topology.H_ATTEMPTS, 0) or 0)


OnMessage = Callable[[BusMessage], None]


class Broker(Protocol):
    durable: bool
    url: str

    def declare(self, queues: list[Queue]) -> None: ...

    def publish(
        self,
        body: bytes,
        *,
        routing_key: str,
        exchange: str = "",
        headers: dict[str, Any] | None = None,
        reply_to: str | None = None,
        correlation_id: str | None = None,
        expiration: float | None = None,
    ) -> None: ...

    def publish_all(self, batch: Sequence[Outgoing]) -> None: ...

    def consume(
        self,
        queues: list[str],
        on_message: OnMessage,
        *,
        stop: threading.Event,
        prefetch: int = 1,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 0.05,
        declare: list[Queue] | None = None,
    ) -> None: ...

    def depths(self, queues: list[str]) -> dict[str, tuple[int, int]]: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


def is_embedded(url: str) -> bool:
    return url.startswith("memory://")


class AmqpBroker:
    """RabbitMQ (AMQP 0-9-1) through kombu."""

    durable = True

    def __init__(self, url: str, *, publish_retry_seconds: float = 60.0) -> None:
        self.url = url
        self.user: str = Connection(url).userid or "guest"  # parsed only: no connection yet
        self._local = threading.local()
        self._producers: list[Connection] = []  # every thread's, to release them all on close
        self._admin_lock = threading.Lock()
        self._admin: Connection | None = None
        self._retry_policy = {
            "interval_start": 0.1,
            "interval_step": 0.5,
            "interval_max": 2.0,
            "max_retries": max(1, int(publish_retry_seconds / 2) + 1),
        }

    def _connection(self, **extra: Any) -> Connection:
        return Connection(self.url, heartbeat=0, connect_timeout=5, **extra)

    def _producer(self) -> Producer:
        producer = getattr(self._local, "producer", None)
        if producer is None:
            connection = self._connection(transport_options={"confirm_publish": True})
            producer = Producer(connection)
            self._local.connection, self._local.producer = connection, producer
            with self._admin_lock:
                self._producers.append(connection)
        return producer

    def _drop_producer(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.producer = self._local.connection = None
        if connection is not None:
            _release(connection)

    def publish(
        self,
        body: bytes,
        *,
        routing_key: str,
        exchange: str = "",
        headers: dict[str, Any] | None = None,
        reply_to: str | None = None,
        correlation_id: str | None = None,
        expiration: float | None = None,
    ) -> None:
        """Publish one persistent message and wait for the broker's confirm."""
        extra: dict[str, Any] = self._properties()
        if reply_to:
            extra["reply_to"] = reply_to
        if correlation_id:
            extra["correlation_id"] = correlation_id
        if expiration is not None:
            extra["expiration"] = expiration
        try:
            producer = self._producer()
            producer.publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                headers=headers or {},
                retry=True,
                retry_policy=self._retry_policy,
                **extra,
            )
        except (*CONNECTION_ERRORS, MessageNacked) as exc:
            self._drop_producer()
            if _refused(exc):
                raise TechnicalError("the message bus refused the message (basic.nack)") from exc
            raise TechnicalError(f"message bus unavailable: {exc}") from exc

    def publish_all(self, batch: Sequence[Outgoing]) -> None:
        """Publish every message of ``batch``, persistent, and return once the broker
        confirmed them all: written out together, their confirms awaited together. What
        that leaves unconfirmed (a dropped link, a refusal) is published again one by one
        on the reconnecting path; a TechnicalError if that fails too."""
        if len(batch) < 2:
            _one_by_one(self, batch)
            return
        publisher = None
        try:
            publisher = self._confirming()
            publisher.publish(batch, self._properties())
            return
        except (*CONNECTION_ERRORS, Unconfirmed) as exc:
            left = publisher.unconfirmed() if publisher is not None else list(batch)
            self._drop_confirming()
            log.warning(
                "%d of %d messages not confirmed (%s): sent again", len(left), len(batch), exc
            )
        _one_by_one(self, left)

    def _properties(self) -> dict[str, Any]:
        return {
            "delivery_mode": 2,
            "content_type": "application/xml",
            "content_encoding": "binary",  # the XML declares its own encoding
            "user_id": self.user,  # the hub's own messages say so (see bus.senders)
        }

    def _confirming(self) -> ConfirmingPublisher:
        """This thread's batch publisher (its own connection, confirms not awaited per message)."""
        publisher = getattr(self._local, "confirming", None)
        if publisher is None:
            connection = self._connection()
            with self._admin_lock:
                self._producers.append(connection)
            publisher = ConfirmingPublisher(connection, timeout=CONFIRM_TIMEOUT_SECONDS)
            self._local.confirming = publisher
        return publisher

    def _drop_confirming(self) -> None:
        publisher = getattr(self._local, "confirming", None)
        self._local.confirming = None
        if publisher is not None:
            _release(publisher.connection)

    def declare(self, queues: list[Queue]) -> None:
        self._with_admin(lambda connection: _declare_on(connection.default_channel, queues))

    def depths(self, queues: list[str]) -> dict[str, tuple[int, int]]:
        """(messages ready, consumers) of each existing queue."""

        def run(connection: Connection) -> dict[str, tuple[int, int]]:
            found = {}
            for name in queues:
                channel = connection.channel()
                try:
                    _, messages, consumers = channel.queue_declare(name, passive=True)
                    found[name] = (int(messages), int(consumers))
                except CONNECTION_ERRORS:
                    pass  # absent queue: the channel is closed by the broker
                finally:
                    with contextlib.suppress(*CONNECTION_ERRORS):
                        channel.close()
            return found

        return self._with_admin(run)

    def ping(self) -> bool:
        try:
            self._with_admin(lambda c: c.default_channel)
            return True
        except (TechnicalError, *CONNECTION_ERRORS):
            return False

    def _with_admin(self, work: Callable[[Connection], Any]) -> Any:
        with self._admin_lock:
            try:
                if self._admin is None:
                    self._admin = self._connection()
                    self._admin.ensure_connection(max_retries=1)
                return work(self._admin)
            except CONNECTION_ERRORS as exc:
                if self._admin is not None:
                    _release(self._admin)
                self._admin = None
                raise TechnicalError(f"message bus unavailable: {exc}") from exc

    def consume(
        self,
        queues: list[str],
        on_message: OnMessage,
        *,
        stop: threading.Event,
        prefetch: int = 1,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 0.05,
        declare: list[Queue] | None = None,
    ) -> None:
        """Consume until ``stop`` is set, reconnecting (with back-off) whenever the link drops.

        ``declare`` names queues to (re)declare on every connection (e.g. a reply queue).
        """
        backoff = 0.2
        while not stop.is_set():
            try:
                with self._connection() as connection:
                    connection.ensure_connection(max_retries=1)
                    backoff = 0.2
                    if declare:
                        _declare_on(connection.default_channel, declare)
                    self._consume_on(
                        connection, queues, on_message, stop, prefetch, tick, tick_seconds
                    )
            except Exception as exc:  # a lost link, or a bug: reconnect, never die
                if stop.is_set():
                    break
                if not isinstance(exc, CONNECTION_ERRORS):
                    log.exception("consumer of %s failed", queues)
                log.warning(
                    "consumer of %s lost the broker (%s); retrying in %.1fs", queues, exc, backoff
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _consume_on(
        self,
        connection: Connection,
        queues: list[str],
        on_message: OnMessage,
        stop: threading.Event,
        prefetch: int,
        tick: Callable[[], None] | None,
        tick_seconds: float,
    ) -> None:
        channel = connection.channel()
        channel.basic_qos(0, prefetch, False)
        consumers = [
            Consumer(channel, [Queue(name, no_declare=True)], on_message=_adapter(name, on_message))
            for name in queues
        ]
        for consumer in consumers:
            consumer.consume()
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):  # socket.timeout is TimeoutError
                    connection.drain_events(timeout=tick_seconds)
                if tick is not None:
                    tick()
        finally:
            if connection.connected:
                for consumer in consumers:
                    with contextlib.suppress(*CONNECTION_ERRORS):
                        consumer.cancel()

    def close(self) -> None:
        self._drop_producer()
        self._drop_confirming()
        with self._admin_lock:
            producers, self._producers = self._producers, []
        for connection in producers:
            _release(connection)
        with self._admin_lock:
            if self._admin is not None:
                _release(self._admin)
                self._admin = None


def _declare_on(channel: Any, queues: list[Queue]) -> None:
    """The hub's exchanges, then ``queues`` (idempotent: same arguments every time)."""
    for exchange in (topology.EXCHANGE, topology.DLX, topology.RETRY):
        exchange(channel).declare()
    for queue in queues:
        queue(channel).declare()


def _one_by_one(broker: Broker, batch: Sequence[Outgoing]) -> None:
    for message in batch:
        broker.publish(
            message.body,
            routing_key=message.routing_key,
            exchange=message.exchange,
            headers=message.headers,
            reply_to=message.reply_to,
            correlation_id=message.correlation_id,
        )


def _refused(exc: BaseException | None) -> bool:
    """Whether the broker nacked the message (kombu re-raises that as its own error)."""
    while exc is not None:
        if isinstance(exc, MessageNacked):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _release(connection: Connection) -> None:
    with contextlib.suppress(*CONNECTION_ERRORS):
        connection.release()


def _adapter(queue: str, on_message: OnMessage) -> Callable[[Any], None]:
    def adapt(message: Any) -> None:
        props = message.properties or {}
        info = message.delivery_info or {}
        body = message.body
        if isinstance(body, str):  # py-amqp decoded it by its content_encoding: undo that
            body = body.encode(props.get("content_encoding") or "utf-8")
        on_message(
            BusMessage(
                body=bytes(body),
                headers=dict(message.headers or {}),
                queue=queue,
                routing_key=str(info.get("routing_key", "")),
                reply_to=props.get("reply_to"),
                correlation_id=props.get("correlation_id"),
                redelivered=bool(info.get("redelivered", False)),
                user_id=props.get("user_id"),
                _ack=message.ack,
            )
        )

    return adapt


class MemoryBroker:
    """In-process named queues for the embedded default; dead letters go to ``on_dead``."""

    durable = False

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._queues: dict[str, deque[BusMessage]] = {}
        self._ready = threading.Condition()
        self.on_dead: Callable[[BusMessage], None] | None = None

    def declare(self, queues: list[Queue]) -> None:
        with self._ready:
            for queue in queues:
                self._queues.setdefault(queue.name, deque())

    def publish(
        self,
        body: bytes,
        *,
        routing_key: str,
        exchange: str = "",
        headers: dict[str, Any] | None = None,
        reply_to: str | None = None,
        correlation_id: str | None = None,
        expiration: float | None = None,
    ) -> None:
        message = BusMessage(
            body, dict(headers or {}), routing_key, routing_key, reply_to, correlation_id
        )
        if exchange == topology.DLX.name:
            if self.on_dead is None:
                raise TechnicalError("no dead-letter store attached to the in-process bus")
            self.on_dead(message)
            return
        if exchange:
            raise TechnicalError(f"the in-process bus routes to queues only, not {exchange!r}")
        with self._ready:
            self._queues.setdefault(routing_key, deque()).append(message)
            self._ready.notify_all()

    def publish_all(self, batch: Sequence[Outgoing]) -> None:
        _one_by_one(self, batch)

    def get(self, queue: str, timeout: float = 0.0) -> BusMessage | None:
        """Take the next message of a queue (tests and embedded consumers)."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while True:
                found = self._queues.get(queue)
                if found:
                    return found.popleft()
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._ready.wait(left)

    def consume(
        self,
        queues: list[str],
        on_message: OnMessage,
        *,
        stop: threading.Event,
        prefetch: int = 1,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 0.05,
        declare: list[Queue] | None = None,
    ) -> None:
        self.declare(declare or [])
        while not stop.is_set():
            for queue in queues:
                message = self.get(queue, tick_seconds / max(1, len(queues)))
                if message is not None:
                    on_message(message)
            if tick is not None:
                tick()

    def wake(self) -> None:
        with self._ready:
            self._ready.notify_all()

    def depths(self, queues: list[str]) -> dict[str, tuple[int, int]]:
        with self._ready:
            return {q: (len(self._queues[q]), 0) for q in queues if q in self._queues}

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        self.wake()


def make_broker(url: str, *, publish_retry_seconds: float = 60.0) -> Broker:
    if is_embedded(url):
        return MemoryBroker(url)
    return AmqpBroker(url, publish_retry_seconds=publish_retry_seconds)
