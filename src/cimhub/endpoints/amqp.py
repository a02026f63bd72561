"""AMQP as a transport for other systems: the 61968-100 JMS request/reply pattern on AMQP.

An integrator publishes any 61968-100 message (a RequestMessage, an EventMessage, or a
strongly-typed one such as ``CreatedMeterReadings`` / ``GetMeterReadings``) to the durable
queue ``cimhub.inbound`` through the default exchange, with these message properties:

==================  =====================================================================
``reply_to``        the queue the ResponseMessage is published to (default exchange)
``correlation_id``  echoed on the reply's properties (the reply's Header/CorrelationID
                    echoes the request's CorrelationID or MessageID, as on every transport)
``delivery_mode``   2 (persistent)
``content_type``    ``application/xml``
``user_id``         the sender's RabbitMQ user, named after its credential (``ck_…``): the
                    credential's tenant and roles apply (see ``cimhub.bus.senders``);
                    required once the hub has credentials
header
``cimhub-tenant``   the tenant (DISCOM) code; the hub's default tenant when absent (with
                    a ``user_id``: the credential's tenant; another one is refused, 6.2)
==================  =====================================================================

The reply carries headers ``cimhub-result`` (OK/PARTIAL/FAILED) and ``cimhub-code``.
A message may also be published to the topic exchange ``cimhub`` with routing key
``<tenant>.<Noun>.<verb>`` (e.g. ``discom-a.MeterReadings.created``). ``request`` below is a
small client doing exactly this, for tests, the conformance runner and integrators.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Consumer, Producer, Queue

from cimhub.bus import topology

INBOUND_QUEUE = topology.INBOUND


@dataclass(frozen=True, slots=True)
class AmqpReply:
    body: bytes
    correlation_id: str | None
    headers: dict[str, Any]


def request(
    broker_url: str,
    body: bytes,
    *,
    tenant: str | None = None,
    timeout: float = 30.0,
    correlation_id: str | None = None,
    queue: str = INBOUND_QUEUE,
    user_id: str | None = None,
) -> AmqpReply:
    """Publish ``body`` to ``queue`` and wait for the ResponseMessage (TimeoutError if none)."""
    correlation = correlation_id or uuid.uuid4().hex
    reply_queue = Queue(
        f"client.reply.{uuid.uuid4().hex[:12]}", exclusive=True, auto_delete=True, durable=False
    )
    got: list[AmqpReply] = []

    def on_message(message: Any) -> None:
        if (message.properties or {}).get("correlation_id") == correlation:
            body = message.body
            got.append(
                AmqpReply(
                    body.encode("utf-8") if isinstance(body, str) else bytes(body),
                    correlation,
                    dict(message.headers or {}),
                )
            )
        message.ack()

    with Connection(broker_url, connect_timeout=5) as connection:
        channel = connection.channel()
        reply_queue(channel).declare()
        if queue == INBOUND_QUEUE:  # as the hub declares it: publishing never drops it
            topology.inbound_queue()(channel).declare()
        with Consumer(channel, [reply_queue], on_message=on_message):
            Producer(channel).publish(
                body,
                exchange="",
                routing_key=queue,
                reply_to=reply_queue.name,
                correlation_id=correlation,
                delivery_mode=2,
                content_type="application/xml",
                content_encoding="utf-8",
                headers={topology.H_TENANT: tenant} if tenant else {},
                **({"user_id": user_id} if user_id else {}),
            )
            connection.drain_events(timeout=timeout)
            while not got:
                connection.drain_events(timeout=timeout)
    return got[0]
