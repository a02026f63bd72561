"""Exchanges, queues and routing keys: the shape of the hub on an AMQP broker.

* ``cimhub`` — topic exchange; routing key ``<tenant>.<Noun>.<verb>``
  (e.g. ``discom-a.MeterReadings.created``); durable queues per handler group are bound
  to the (noun, verb) pairs the registry handles.
* ``cimhub.inbound`` — the documented queue other systems publish any 61968-100 message to
  (default exchange), with ``reply_to`` and ``correlation_id`` for the ResponseMessage.
* ``cimhub.retry`` — fanout exchange + queue; a message waits there ``expiration`` ms, then
  is dead-lettered through the default exchange back to the queue named by its routing key.
* ``cimhub.dlx`` — topic exchange of dead letters (headers ``x-cimhub-reason``,
  ``x-cimhub-attempts``, ``x-cimhub-queue``), bound to the durable queue ``cimhub.dead``.
* ``cimhub.sub.<name>`` — one queue per subscription (single active consumer: in order).
* ``cimhub.replies`` — asynchronous replies waiting for delivery to an HTTP/SOAP address.
"""

from __future__ import annotations

from kombu import Exchange, Queue, binding

from cimhub.message.verb import Noun, Verb

EXCHANGE = Exchange("cimhub", "topic", durable=True)
DLX = Exchange("cimhub.dlx", "topic", durable=True)
RETRY = Exchange("cimhub.retry", "fanout", durable=True)

INBOUND = "cimhub.inbound"
DEAD = "cimhub.dead"
RETRY_QUEUE = "cimhub.retry"
REPLIES = "cimhub.replies"
SUBSCRIPTION_PREFIX = "cimhub.sub."

GROUPS = ("readings", "events", "controls", "queries", "masterdata")
_GROUP_OF_NOUN = {
    Noun.METER_READINGS.value: "readings",
    Noun.END_DEVICE_EVENTS.value: "events",
    Noun.END_DEVICE_CONTROLS.value: "controls",
    Noun.METER_SERVICE_REQUESTS.value: "events",  # the WFM's reports move exceptions
}

# Message headers the hub sets and reads.
H_TENANT = "cimhub-tenant"
H_TRANSPORT = "cimhub-transport"
H_DEFAULT_VERB = "cimhub-default-verb"
H_KEY = "cimhub-message-key"
H_RESULT = "cimhub-result"
H_CODE = "cimhub-code"
H_TECHNICAL = "cimhub-technical"
H_REPLAYED = "cimhub-replayed"
H_ADDRESS = "cimhub-address"
#: The hub's own consumer a message on the replies queue is for (never a sender's address).
H_CONSUMER = "cimhub-consumer"
H_OUTBOX_ID = "cimhub-outbox-id"
#: The tenant (its id) an outbox row relayed was written for: a dead letter of it is theirs.
H_TENANT_ID = "cimhub-tenant-id"
H_EVENT_ID = "cimhub-event-id"
H_SUBSCRIPTION = "cimhub-subscription"
H_ATTEMPTS = "x-cimhub-attempts"
H_REASON = "x-cimhub-reason"
H_QUEUE = "x-cimhub-queue"
#: The credential (its public id, ck_…) an external AMQP message was authenticated as; set
#: by the hub itself on retries (external publishers' own values are ignored).
H_SENDER = "cimhub-sender"
#: Who the hub authenticated at its edge (HTTP, SOAP) before publishing: the audit's actor.
H_ACTOR = "cimhub-actor"


def group_of(noun: str, verb: Verb | str) -> str:
    """The handler group (and so the queue) of a (noun, verb)."""
    if Verb(verb) is Verb.GET:
        return "queries"
    return _GROUP_OF_NOUN.get(noun, "masterdata")


def group_queue_name(group: str) -> str:
    return f"cimhub.{group}"


def routing_key(tenant: str, noun: str, verb: Verb | str) -> str:
    """``<tenant>.<Noun>.<verb>``; dots in a tenant code would split it, so they become '_'."""
    return f"{tenant.replace('.', '_')}.{noun}.{Verb(verb).value}"


def _dead_lettered(queue: str) -> dict[str, str]:
    return {"x-dead-letter-exchange": DLX.name, "x-dead-letter-routing-key": queue}


def group_queues(supported: list[tuple[str, Verb]]) -> list[Queue]:
    """One durable queue per handler group, bound to every (noun, verb) the hub handles."""
    keys: dict[str, list[str]] = {g: [] for g in GROUPS}
    for noun, verb in supported:
        keys[group_of(noun, verb)].append(f"*.{noun}.{verb.value}")
    return [
        Queue(
            group_queue_name(group),
            [binding(EXCHANGE, routing_key=k) for k in sorted(keys[group])],
            durable=True,
            queue_arguments=_dead_lettered(group_queue_name(group)),
        )
        for group in GROUPS
    ]


def inbound_queue() -> Queue:
    return Queue(INBOUND, durable=True, queue_arguments=_dead_lettered(INBOUND))


def dead_queue() -> Queue:
    return Queue(DEAD, DLX, routing_key="#", durable=True)


def retry_queue() -> Queue:
    # Expired messages go to the default exchange under their routing key: the target queue.
    return Queue(RETRY_QUEUE, RETRY, durable=True, queue_arguments={"x-dead-letter-exchange": ""})


def replies_queue() -> Queue:
    return Queue(REPLIES, durable=True, queue_arguments=_dead_lettered(REPLIES))


def subscription_queue(name: str) -> Queue:
    queue = SUBSCRIPTION_PREFIX + name
    return Queue(
        queue,
        durable=True,
        queue_arguments={"x-single-active-consumer": True, **_dead_lettered(queue)},
    )


def core_queues(supported: list[tuple[str, Verb]]) -> list[Queue]:
    """Every queue the hub itself needs (subscription queues come with subscriptions)."""
    return [*group_queues(supported), inbound_queue(), dead_queue(), retry_queue(), replies_queue()]
