"""`cimhub worker`: handlers as competing consumers of the group queues and ``cimhub.inbound``.

Messages are grouped: up to ``worker_batch_messages`` of ``worker_batch_bytes`` at most
(or what arrived within ``worker_batch_wait_ms``) are handled in one database transaction,
then each gets its own reply (to ``reply_to``, with its ``correlation_id``; the batch's
replies published together, their confirms awaited once), and only then are they acked:
a message is never acked before its transaction committed and its reply confirmed. A
crash before the ack means redelivery, and the message log answers a repeat with the
original reply, so nothing is stored twice.

Failures: a functional error is answered (FAILED) and acked, never retried. A technical
error is retried through ``cimhub.retry`` with exponential back-off, then dead-lettered
(``x-cimhub-reason``, ``x-cimhub-attempts``) and answered 5.x. While the store is
unavailable nothing is acked or counted as an attempt: the worker waits for the store,
and the messages stay queued.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any

from cimhub.bus import topology
from cimhub.bus.broker import Broker, BusMessage
from cimhub.bus.confirms import Outgoing
from cimhub.bus.dead_letter import dead_letter, record
from cimhub.bus.dispatch import reply_headers
from cimhub.bus.metrics import Metrics
from cimhub.bus.pipeline import Accepted, Answer, Inbound, Pipeline
from cimhub.bus.senders import Senders
from cimhub.errors import CimHubError, FunctionalError, StorageUnavailableError, TechnicalError
from cimhub.message import parser
from cimhub.message.verb import Verb, parse_verb
from cimhub.settings import Settings
from cimhub.stages import stage

log = logging.getLogger("cimhub.worker")
_STOPPING = object()  # the worker stopped while waiting for the store


class Worker:
    def __init__(
        self, settings: Settings, pipeline: Pipeline, broker: Broker, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.broker = broker
        self.metrics = metrics
        self._batch: list[BusMessage] = []
        self._bytes = 0  #: the batch's message bytes
        self._started = 0.0
        self._stop = threading.Event()
        own_user = getattr(broker, "user", None) if broker.durable else None
        self.senders = Senders(settings, pipeline.database, own_user)

    def queues(self) -> list[str]:
        groups = [topology.group_queue_name(g) for g in topology.GROUPS]
        return [*groups, topology.INBOUND, topology.DEAD]

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop``; (re)declares the topology on every (re)connection."""
        self._stop = stop
        self.broker.consume(
            self.queues(),
            self._on_message,
            stop=stop,
            prefetch=self.settings.worker_prefetch,
            tick=self._tick,
            tick_seconds=max(self.settings.worker_batch_wait_ms, 5) / 1000,
            declare=topology.core_queues(self.pipeline.registry.supported()),
        )

    def _on_message(self, message: BusMessage) -> None:
        if message.queue == topology.DEAD:
            self._record_dead(message)
            return
        size, most = len(message.body), self.settings.worker_batch_bytes
        if self._batch and self._bytes + size > most:  # it would make the batch too large
            self.flush()
        if not self._batch:
            self._started = time.monotonic()
        self._batch.append(message)
        self._bytes += size
        if len(self._batch) >= self.settings.worker_batch_messages or self._bytes >= most:
            self.flush()

    def _tick(self) -> None:
        wait = self.settings.worker_batch_wait_ms / 1000
        if self._batch and time.monotonic() - self._started >= wait:
            self.flush()

    def flush(self) -> None:
        with self.pipeline.clock.running():
            self._flush()

    def _flush(self) -> None:
        messages, self._batch, self._bytes = self._batch, [], 0
        ready: list[tuple[BusMessage, Accepted]] = []
        for message in messages:
            accepted = self._accept(message)
            if accepted is not None:
                ready.append((message, accepted))
        if not ready:
            return
        results = self._handle([a for _, a in ready])
        if results is None:  # stopping while the store is down: leave them unacked
            return
        self.metrics.batch_size.observe(len(ready))
        answered = []
        for (message, accepted), result in zip(ready, results, strict=True):
            if isinstance(result, TechnicalError):
                self._retry(message, accepted, result)
            else:
                answered.append((message, result))
        self._answer_all(answered)

    def _inbound(self, message: BusMessage) -> Inbound:
        h = message.headers
        return Inbound(
            message.body,
            str(h.get(topology.H_TENANT) or self.settings.default_tenant),
            str(h.get(topology.H_TRANSPORT) or "amqp"),
            parse_verb(str(h.get(topology.H_DEFAULT_VERB) or "")) or Verb.CREATED,
            message_key=str(h[topology.H_KEY]) if h.get(topology.H_KEY) else None,
            # the hub's own edge named who it authenticated (external senders' values: no)
            audit_actor=str(h.get(topology.H_ACTOR) or "") or None
            if self.senders.own_user in (None, message.user_id)
            else None,
        )

    def _accept(self, message: BusMessage) -> Accepted | None:
        inbound = self._inbound(message)
        root = None
        try:
            principal = self._sender(message)  # AMQP user_id → credential
            if principal is _STOPPING:
                return None  # unacked: redelivered to the next worker
            if principal is not None:
                inbound = replace(inbound, tenant=principal.tenant, principal=principal)
            with stage("parse"):
                root = parser.parse(inbound.raw, self.pipeline.limits)
            return self.pipeline.accept(root, inbound)
        except FunctionalError as exc:
            self._answer(message, self.pipeline.refuse(inbound, None, exc, root))
        except Exception as exc:
            log.exception("could not read a message from %s", message.queue)
            error = TechnicalError(f"internal error: {exc!r}")
            self._answer(message, self.pipeline.refuse(inbound, None, error, root))
        return None

    def _sender(self, message: BusMessage) -> Any:
        """The message's principal (or None); waits while the store cannot tell."""
        delay = 0.2
        while True:
            try:
                return self.senders.principal(message)
            except StorageUnavailableError as exc:
                log.warning("store unavailable (%s); a message waits for its sender", exc.reason)
                if self._stop.wait(delay):
                    return _STOPPING
                delay = min(delay * 2, 5.0)

    def _handle(self, batch: list[Accepted]) -> list[Answer | TechnicalError] | None:
        delay = 0.2
        while True:
            try:
                return self.pipeline.handle_many(batch)
            except StorageUnavailableError as exc:
                log.warning("store unavailable (%s); %d messages wait", exc.reason, len(batch))
                if self._stop.wait(delay):
                    return None
                delay = min(delay * 2, 5.0)

    def _answer(self, message: BusMessage, answer: Answer) -> None:
        self._answer_all([(message, answer)])

    def _answer_all(self, answered: list[tuple[BusMessage, Answer]]) -> None:
        """Reply to those that asked, then ack every one; replies go out together, their
        confirms awaited once. Replies that cannot be sent leave every message unacked:
        redelivered, they are answered from the message log."""
        replies = []
        for message, answer in answered:
            self.metrics.messages.labels(message.queue, answer.result.value).inc()
            if message.reply_to:
                replies.append(
                    Outgoing(
                        answer.body,
                        routing_key=message.reply_to,
                        headers=reply_headers(answer),
                        correlation_id=message.correlation_id,
                    )
                )
        try:
            with stage("publish replies"):
                self.broker.publish_all(replies)
        except CimHubError as exc:
            log.warning(
                "%d replies not sent (%s); their messages will be redelivered",
                len(replies),
                exc.reason,
            )
            return
        for message, _ in answered:
            message.ack()

    def _retry(self, message: BusMessage, accepted: Accepted, error: TechnicalError) -> None:
        attempts = message.attempts + 1
        queue = message.queue
        headers = {**message.headers, topology.H_ATTEMPTS: attempts}
        headers.pop(topology.H_SENDER, None)
        sender = self.senders.sender_id(message)
        if sender is not None:  # re-published as the hub: keep who sent it
            headers[topology.H_SENDER] = sender
        try:
            if attempts >= self.settings.retry_max_attempts:
                dead_letter(
                    self.broker,
                    message,
                    queue=queue,
                    reason=f"{error.code} {error.reason}",
                    attempts=attempts,
                    headers=headers,
                    metrics=self.metrics,
                )
                answer = self.pipeline.refuse(
                    accepted.inbound, accepted.envelope, error, accepted.root
                )
                self._answer(message, answer)
                return
            delay = min(
                self.settings.retry_backoff_seconds * 2 ** (attempts - 1),
                self.settings.retry_backoff_max_seconds,
            )
            self.broker.publish(
                message.body,
                exchange=topology.RETRY.name,
                routing_key=queue,
                headers=headers,
                reply_to=message.reply_to,
                correlation_id=message.correlation_id,
                expiration=delay,
            )
            self.metrics.retries.labels(queue).inc()
            message.ack()
        except CimHubError as exc:
            log.warning(
                "could not requeue a failed message (%s); it will be redelivered", exc.reason
            )

    def _record_dead(self, message: BusMessage) -> None:
        try:
            record(self.pipeline.database, message)
        except CimHubError as exc:
            log.warning("dead letter not stored yet (%s)", exc.reason)
            return
        message.ack()
