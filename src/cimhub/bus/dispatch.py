"""Dispatching over the broker: `cimhub serve` publishes accepted messages and awaits replies.

A synchronous request is published with ``reply_to`` = this process's reply queue and a
fresh ``correlation_id``; the caller waits up to ``reply_wait_seconds`` for the worker's
reply, then answers 0.3 (accepted, still being processed: the same message sent again
returns the reply once it exists). An ``AsyncReplyFlag`` request is acknowledged (0.3) as
soon as the broker confirmed it; its full reply goes to its ReplyAddress through the
outbox.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from kombu import Queue

from cimhub.bus import topology
from cimhub.bus.broker import Broker, BusMessage
from cimhub.bus.pipeline import Accepted, Answer, Pipeline
from cimhub.errors import TechnicalError
from cimhub.message.reply import Result

log = logging.getLogger("cimhub.dispatch")
REPLY_QUEUE_EXPIRES_MS = 300_000


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    message: BusMessage | None = None


class ReplyListener:
    """Consumes this process's reply queue and hands each reply to whoever waits for it."""

    def __init__(self, broker: Broker, topology_queues: list[Queue] | None = None) -> None:
        self.broker = broker
        self._topology = topology_queues or []
        self.queue = f"cimhub.reply.{uuid.uuid4().hex[:16]}"
        self._waiting: dict[str, _Waiter] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        spec = Queue(
            self.queue,
            durable=False,
            auto_delete=False,
            queue_arguments={"x-expires": REPLY_QUEUE_EXPIRES_MS},
        )
        self._thread = threading.Thread(
            target=self.broker.consume,
            args=([self.queue], self._on_reply),
            kwargs={
                "stop": self._stop,
                "prefetch": 64,
                "tick_seconds": 0.2,
                "declare": [*self._topology, spec],  # on every (re)connection
            },
            name="cimhub-replies",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 5  # replies need the queue: wait (bounded) until it exists
        while time.monotonic() < deadline and not self._exists():
            self._stop.wait(0.05)

    def _exists(self) -> bool:
        try:
            return self.queue in self.broker.depths([self.queue])
        except TechnicalError:
            return False

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def expect(self) -> tuple[str, _Waiter]:
        correlation = uuid.uuid4().hex
        waiter = _Waiter()
        with self._lock:
            self._waiting[correlation] = waiter
        return correlation, waiter

    def forget(self, correlation: str) -> None:
        with self._lock:
            self._waiting.pop(correlation, None)

    def _on_reply(self, message: BusMessage) -> None:
        with self._lock:
            waiter = self._waiting.pop(message.correlation_id or "", None)
        if waiter is not None:
            waiter.message = message
            waiter.done.set()
        message.ack()


class BusDispatcher:
    """Publish to ``cimhub`` under ``<tenant>.<Noun>.<verb>``; wait (bounded) for the reply."""

    def __init__(
        self, pipeline: Pipeline, broker: Broker, replies: ReplyListener, wait_seconds: float
    ) -> None:
        self.pipeline = pipeline
        self.broker = broker
        self.replies = replies
        self.wait_seconds = wait_seconds

    def submit(self, accepted: Accepted) -> Answer:
        inbound, envelope = accepted.inbound, accepted.envelope
        headers = {
            topology.H_TENANT: inbound.tenant,
            topology.H_TRANSPORT: inbound.transport,
            topology.H_DEFAULT_VERB: inbound.default_verb.value,
            topology.H_KEY: accepted.key,
        }
        if inbound.actor:
            headers[topology.H_ACTOR] = inbound.actor
        body = inbound.raw if accepted.root.getparent() is None else _serialise(accepted)
        key = topology.routing_key(inbound.tenant, envelope.noun, envelope.verb)
        if accepted.wants_async_reply:
            self.broker.publish(
                body, exchange=topology.EXCHANGE.name, routing_key=key, headers=headers
            )
            return self.pipeline.acknowledgement(accepted)
        correlation, waiter = self.replies.expect()
        try:
            self.broker.publish(
                body,
                exchange=topology.EXCHANGE.name,
                routing_key=key,
                headers=headers,
                reply_to=self.replies.queue,
                correlation_id=correlation,
            )
            if not waiter.done.wait(self.wait_seconds) or waiter.message is None:
                return self.pipeline.acknowledgement(
                    accepted,
                    "accepted and still being processed; send the same message again "
                    "(same MessageID) to get its reply",
                )
        finally:
            self.replies.forget(correlation)
        return answer_of(waiter.message)


def answer_of(message: BusMessage) -> Answer:
    h = message.headers
    return Answer(
        message.body,
        Result(str(h.get(topology.H_RESULT, "OK"))),
        str(h.get(topology.H_CODE, "0.0")),
        technical=bool(h.get(topology.H_TECHNICAL, False)),
        replayed=bool(h.get(topology.H_REPLAYED, False)),
    )


def reply_headers(answer: Answer) -> dict[str, object]:
    return {
        topology.H_RESULT: answer.result.value,
        topology.H_CODE: answer.code,
        topology.H_TECHNICAL: answer.technical,
        topology.H_REPLAYED: answer.replayed,
    }


def _serialise(accepted: Accepted) -> bytes:
    from lxml import etree

    return etree.tostring(accepted.root, xml_declaration=True, encoding="UTF-8")
