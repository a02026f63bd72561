"""The bus on the real RabbitMQ (a private vhost per test): serve publishes, workers handle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from cimhub.bus import topology
from cimhub.bus.dead_letter import list_letters, replay
from cimhub.endpoints.amqp import request
from cimhub.errors import TechnicalError
from cimhub.settings import Settings
from cimhub.store.subscriptions import Subscription
from cimhub.testing.bus import FAST, ThreadWorker, readings_in, with_async_reply
from cimhub.testing.databases import postgres_database
from cimhub.testing.messages import created_meter_readings, get_meter_readings, meter_mrid
from cimhub.testing.receiver import Receiver
from cimhub.testing.replies import ParsedReply
from cimhub.testing.server import running_hub
from cimhub.testing.waiting import wait_until

pytestmark = pytest.mark.postgres
DAY = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def settings(pg_url: str, amqp_url: str) -> Settings:
    return Settings(database_url=pg_url, broker_url=amqp_url, **FAST)  # type: ignore[arg-type]


def test_amqp_request_reply_round_trip(
    settings: Settings, start_worker: Callable[[Settings], ThreadWorker]
) -> None:
    start_worker(settings)
    created = request(
        settings.broker_url,
        created_meter_readings([1, 2], DAY, 96),
        tenant="t1",
        correlation_id="corr-1",
        timeout=20,
    )
    assert created.correlation_id == "corr-1"
    assert created.headers[topology.H_RESULT] == "OK"
    assert ParsedReply.of(created.body).result == "OK"
    got = request(settings.broker_url, get_meter_readings([meter_mrid(1)]), tenant="t1", timeout=20)
    assert len(ParsedReply.of(got.body).readings()) == 96
    refused = request(settings.broker_url, b"<not-xml", tenant="t1", timeout=20)
    assert ParsedReply.of(refused.body).codes == ["1.1"]  # functional: answered, not retried


def test_serve_publishes_and_waits_for_the_worker(
    settings: Settings, start_worker: Callable[[Settings], ThreadWorker]
) -> None:
    start_worker(settings)
    with running_hub(settings) as (_hub, base):
        reply = httpx.post(base + "/cim", content=created_meter_readings([1], DAY, 96), timeout=30)
        assert reply.status_code == 200 and ParsedReply.of(reply.content).result == "OK"
        query = httpx.post(base + "/cim", content=get_meter_readings([meter_mrid(1)]), timeout=30)
        assert len(ParsedReply.of(query.content).readings()) == 96
        ready = httpx.get(base + "/readyz").json()
        assert ready["checks"] == {"database": "ok", "broker": "ok"}
        metrics = httpx.get(base + "/metrics").text
        assert 'cimhub_queue_consumers{queue="cimhub.readings"} 1.0' in metrics


def test_no_worker_in_time_answers_accepted_pending(settings: Settings) -> None:
    with running_hub(settings.model_copy(update={"reply_wait_seconds": 0.3})) as (_hub, base):
        reply = httpx.post(base + "/cim", content=created_meter_readings([1], DAY, 4), timeout=30)
    assert reply.status_code == 200
    assert ParsedReply.of(reply.content).codes == ["0.3"]


def test_async_replies_to_an_http_address_and_to_a_queue(
    settings: Settings, start_worker: Callable[[Settings], ThreadWorker], receiver: Receiver
) -> None:
    start_worker(settings)
    with running_hub(settings) as (_hub, base):
        to_http = with_async_reply(created_meter_readings([1], DAY, 4), receiver.url)
        ack = httpx.post(base + "/cim", content=to_http, timeout=30)
        assert ParsedReply.of(ack.content).codes == ["0.3"]
        [body] = receiver.wait_for(1)
        assert ParsedReply.of(body).codes == ["0.0"]
    from kombu import Connection, Queue

    with Connection(settings.broker_url) as connection:
        queue = Queue("cis.replies", durable=True)(connection.default_channel)
        queue.declare()  # the integrator's own queue exists before it is named as ReplyAddress
        to_queue = with_async_reply(created_meter_readings([2], DAY, 4), "amqp:cis.replies")
        ack2 = request(settings.broker_url, to_queue, tenant="t1", timeout=20)
        assert ParsedReply.of(ack2.body).result == "OK"
        message = wait_until(lambda: queue.get(no_ack=True), timeout=20)
    assert ParsedReply.of(message.body).codes == ["0.0"]


def test_technical_errors_are_retried_then_dead_lettered_and_replayed(
    settings: Settings, start_worker: Callable[[Settings], ThreadWorker]
) -> None:
    settings = settings.model_copy(update={"retry_max_attempts": 3})
    worker = start_worker(settings)
    calls = []

    def broken(ctx: object, envelope: object) -> object:
        calls.append(1)
        raise TechnicalError("the HES adapter is down")

    original = worker.hub.registry.get("MeterReadings", "created")  # type: ignore[arg-type]
    worker.hub.registry.register("MeterReadings", ["created"], broken)  # type: ignore[list-item]
    reply = request(
        settings.broker_url, created_meter_readings([1], DAY, 4), tenant="t1", timeout=30
    )
    assert ParsedReply.of(reply.body).codes == ["5.2"] and len(calls) == 3
    [letter] = wait_until(lambda: list_letters(worker.hub.database))
    assert letter.queue == topology.INBOUND and letter.attempts == 3
    assert "the HES adapter is down" in letter.reason
    worker.hub.registry.register("MeterReadings", ["created"], original)  # type: ignore[arg-type,list-item]
    assert replay(worker.hub.database, letter.id) and not replay(worker.hub.database, letter.id)
    with worker.hub.database.unit_of_work(hub=True) as uow:
        wait_until(lambda: _count(worker) == 4, timeout=20)
        del uow


def _count(worker: ThreadWorker) -> int:
    from sqlalchemy import text

    with worker.hub.database.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM interval_reading")).scalar_one())


def test_failing_subscriber_retries_dead_letters_and_replays_exactly_once(
    settings: Settings, start_worker: Callable[[Settings], ThreadWorker], receiver: Receiver
) -> None:
    worker = start_worker(settings)
    assert worker.hub.bus is not None
    worker.hub.bus.put_subscription(
        Subscription(
            name="billing",
            noun="MeterReadings",
            verbs=("created",),
            address=receiver.url,
            max_attempts=3,
            backoff_seconds=0.05,
        )
    )
    receiver.fail_with = 500
    request(settings.broker_url, created_meter_readings([1], DAY, 4), tenant="t1", timeout=20)
    [letter] = wait_until(lambda: list_letters(worker.hub.database), timeout=30)
    assert receiver.failures == 3 and letter.queue == "cimhub.sub.billing"
    receiver.fail_with = None
    assert replay(worker.hub.database, letter.id)
    assert not replay(worker.hub.database, letter.id)
    assert len(readings_in(receiver.wait_for(1))) == 4
    assert len(receiver.bodies) == 1
