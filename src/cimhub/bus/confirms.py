"""Publishing a batch with publisher confirms awaited together, not one by one.

py-amqp's confirming publish (kombu's ``confirm_publish``) waits for the broker's
``basic.ack`` after each message: a round trip per reply, 14 % of a worker's time on
one-meter traffic (BENCHMARKS.md, round 7). In confirm mode RabbitMQ numbers a channel's
publishes 1, 2, 3… and acknowledges them, singly or ``multiple`` up to a tag, in its own
time; so a batch is written out whole and its confirms drained afterwards. Nothing is
taken as sent until every tag of the batch is acknowledged.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kombu import Connection, Producer


@dataclass(frozen=True)
class Outgoing:
    """One message of a batch: where it goes and what it carries."""

    body: bytes
    routing_key: str
    exchange: str = ""
    headers: dict[str, Any] = field(default_factory=dict)
    reply_to: str | None = None
    correlation_id: str | None = None


class Unconfirmed(Exception):
    """The broker refused (``basic.nack``) or did not confirm in time part of a batch."""


class ConfirmingPublisher:
    """A channel in confirm mode on ``connection``, publishing batches. After a failure
    (``Unconfirmed``, or the connection's own error) ``unconfirmed()`` tells which
    messages of the batch the broker did not acknowledge; the publisher is spent."""

    def __init__(self, connection: Connection, *, timeout: float) -> None:
        self.connection = connection
        self.timeout = timeout
        channel = connection.channel()
        channel.confirm_select()
        channel.events["basic_ack"].add(self._acked)
        channel.events["basic_nack"].add(self._nacked)
        self.producer = Producer(channel)
        self._published = 0  # the channel's last delivery tag
        self._batch: Sequence[Outgoing] = ()
        self._first = 1  # the delivery tag of the batch's first message
        self._waiting: set[int] = set()
        self._refused: set[int] = set()

    def publish(self, batch: Sequence[Outgoing], properties: dict[str, Any]) -> None:
        """Publish every message of ``batch`` with ``properties`` (and its own), then
        return once the broker confirmed them all; raises ``Unconfirmed`` otherwise."""
        self._batch, self._first = batch, self._published + 1
        for message in batch:
            extra = {**properties}
            if message.reply_to:
                extra["reply_to"] = message.reply_to
            if message.correlation_id:
                extra["correlation_id"] = message.correlation_id
            self.producer.publish(
                message.body,
                exchange=message.exchange,
                routing_key=message.routing_key,
                headers=message.headers,
                **extra,
            )
            self._published += 1
            self._waiting.add(self._published)
        deadline = time.monotonic() + self.timeout
        while self._waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Unconfirmed(f"no confirm from the broker in {self.timeout:g} s")
            with contextlib.suppress(TimeoutError):  # socket.timeout: the deadline decides
                self.connection.drain_events(timeout=left)
        if self._refused:
            raise Unconfirmed(f"the broker refused {len(self._refused)} of {len(batch)} messages")
        self._batch = ()  # confirmed: no need to hold its bodies (a query's reply may be MBs)

    def unconfirmed(self) -> list[Outgoing]:
        """The last batch's messages not acknowledged: refused, not answered, or not
        published at all (the link failed on the way)."""
        open_ = self._waiting | self._refused
        return [
            message
            for tag, message in enumerate(self._batch, start=self._first)
            if tag in open_ or tag > self._published
        ]

    def _acked(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _nacked(self, delivery_tag: int, multiple: bool) -> None:
        self._refused |= self._settle(delivery_tag, multiple)

    def _settle(self, delivery_tag: int, multiple: bool) -> set[int]:
        """Forget the tags the broker answered for; returns them."""
        settled = {t for t in self._waiting if t <= delivery_tag} if multiple else {delivery_tag}
        settled &= self._waiting
        self._waiting -= settled
        return settled
