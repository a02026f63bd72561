"""Batches published with their confirms awaited together, on the real RabbitMQ (a private
vhost per test): every message arrives once, a refusal is an error and not taken as sent,
and a worker answers a batch of requests with one reply each."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from kombu import Connection, Producer, Queue
from sqlalchemy import make_url

from cimhub.bus import topology
from cimhub.bus.broker import AmqpBroker
from cimhub.bus.confirms import Outgoing
from cimhub.errors import TechnicalError
from cimhub.settings import Settings
from cimhub.testing.bus import FAST, ThreadWorker
from cimhub.testing.databases import postgres_database
from cimhub.testing.messages import created_meter_readings
from cimhub.testing.proxy import TcpProxy
from cimhub.testing.replies import ParsedReply
from cimhub.testing.waiting import wait_until

pytestmark = pytest.mark.postgres
DAY = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def broker(amqp_url: str) -> Iterator[AmqpBroker]:
    broker = AmqpBroker(amqp_url, publish_retry_seconds=2)
    yield broker
    broker.close()


def drain(amqp_url: str, queue: str) -> list[tuple[bytes, dict]]:
    """Every message now in ``queue`` (body, properties), in queue order."""
    taken = []
    with Connection(amqp_url) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            taken.append((bytes(message.body), dict(message.properties)))
    return taken


def test_a_batch_arrives_whole_in_order_persistent_and_once(
    broker: AmqpBroker, amqp_url: str
) -> None:
    broker.declare([Queue("batch.q", durable=True)])
    batch = [
        Outgoing(f"<m>{n}</m>".encode(), "batch.q", headers={"n": n}, correlation_id=f"c-{n}")
        for n in range(50)
    ]
    broker.publish_all(batch)
    broker.publish_all(batch[:3])  # the same channel again: its delivery tags go on from 50
    taken = drain(amqp_url, "batch.q")
    assert [body for body, _ in taken] == [m.body for m in batch + batch[:3]]
    props = taken[0][1]
    assert props["delivery_mode"] == 2 and props["correlation_id"] == "c-0"
    assert props["user_id"] == broker.user and props["application_headers"] == {"n": 0}


def test_messages_the_broker_refuses_are_an_error_and_the_kept_ones_are_not_repeated(
    broker: AmqpBroker, amqp_url: str
) -> None:
    """A queue that rejects publishes beyond two messages nacks the rest of a batch of five:
    publish_all sends those again one by one, they are refused again, and it says so."""
    full = Queue(
        "full.q", durable=True, queue_arguments={"x-max-length": 2, "x-overflow": "reject-publish"}
    )
    broker.declare([full])
    batch = [Outgoing(f"<m>{n}</m>".encode(), "full.q") for n in range(5)]
    with pytest.raises(TechnicalError, match="refused"):
        broker.publish_all(batch)
    assert [body for body, _ in drain(amqp_url, "full.q")] == [b"<m>0</m>", b"<m>1</m>"]
    broker.publish_all(batch[:2])  # a fresh channel after the failure: works as before
    assert len(drain(amqp_url, "full.q")) == 2


def test_a_link_cut_before_a_batch_is_confirmed_loses_nothing(amqp_url: str) -> None:
    """The batch connection is cut (a TCP proxy between hub and broker): the batch is sent
    again on the reconnecting path once the broker is back; every message arrives."""
    url = make_url(amqp_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5672) as proxy:
        via_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
        broker = AmqpBroker(via_proxy, publish_retry_seconds=20)
        try:
            broker.declare([Queue("cut.q", durable=True)])
            warm = Outgoing(b"<m>warm</m>", "cut.q")
            broker.publish_all([warm, warm])  # the batch connection is open
            proxy.cut()
            threading.Timer(1.0, proxy.restore).start()
            batch = [Outgoing(f"<m>{n}</m>".encode(), "cut.q") for n in range(10)]
            broker.publish_all(batch)
        finally:
            broker.close()
    bodies = [body for body, _ in drain(amqp_url, "cut.q")]
    assert bodies == [warm.body, warm.body] + [m.body for m in batch]


def answered_in_batches(
    amqp_url: str,
    start_worker: Callable[[Settings], ThreadWorker],
    raws: list[bytes],
    **settings: object,
) -> tuple[list[tuple[bytes, dict]], dict[str, float]]:
    """``raws`` queued as requests before a worker starts (it takes them in batches):
    their replies, and the worker's batch-size histogram samples."""
    with postgres_database() as url:
        config = Settings(database_url=url, broker_url=amqp_url, **FAST | settings)  # type: ignore[arg-type]
        replies = Queue("replies.q", durable=True)
        with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
            channel = connection.channel()
            topology.inbound_queue()(channel).declare()
            replies(channel).declare()
            producer = Producer(channel)
            for n, raw in enumerate(raws, 1):
                producer.publish(
                    raw,
                    routing_key=topology.INBOUND,
                    delivery_mode=2,
                    headers={topology.H_TENANT: "t1"},
                    reply_to="replies.q",
                    correlation_id=f"req-{n}",
                )
        worker = start_worker(config)
        got: list[tuple[bytes, dict]] = []
        wait_until(
            lambda: got.extend(drain(amqp_url, "replies.q")) or len(got) >= len(raws), timeout=60
        )
        worker.close()
        assert worker.hub.bus is not None
        samples = worker.hub.bus.metrics.batch_size.collect()[0].samples
        return got, {s.name: s.value for s in samples}


def test_a_worker_answers_a_batch_of_requests_one_reply_each(
    amqp_url: str, start_worker: Callable[[Settings], ThreadWorker]
) -> None:
    raws = [created_meter_readings([n], DAY, 4) for n in range(1, 41)]
    got, samples = answered_in_batches(amqp_url, start_worker, raws)
    assert sorted(p["correlation_id"] for _, p in got) == sorted(f"req-{n}" for n in range(1, 41))
    assert {ParsedReply.of(body).result for body, _ in got} == {"OK"}
    handled, batches = (
        samples["cimhub_worker_batch_messages_sum"],
        samples["cimhub_worker_batch_messages_count"],
    )
    assert handled == 40 and batches < 40, "the requests were handled in batches"


def test_a_worker_batch_holds_no_more_message_bytes_than_its_limit(
    amqp_url: str, start_worker: Callable[[Settings], ThreadWorker]
) -> None:
    """Requests queued before the worker starts fill batches of ``worker_batch_bytes`` at
    most, not of ``worker_batch_messages``: each batch here holds three at most."""
    raws = [created_meter_readings([n], DAY, 96, message_id=f"b-{n}") for n in range(1, 13)]
    got, samples = answered_in_batches(
        amqp_url, start_worker, raws, worker_batch_bytes=3 * max(map(len, raws))
    )
    assert {ParsedReply.of(body).result for body, _ in got} == {"OK"} and len(got) == 12
    assert samples["cimhub_worker_batch_messages_sum"] == 12
    assert samples["cimhub_worker_batch_messages_count"] >= 4  # three a batch at most
