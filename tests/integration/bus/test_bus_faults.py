"""Faults on the real RabbitMQ and PostgreSQL: workers killed, broker and database cut.

Private vhosts and throw-away databases; outages are made with a TCP proxy the test cuts,
never by stopping the machine's shared services.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from kombu import Connection, Producer
from sqlalchemy import make_url

from cimhub.bus import topology
from cimhub.settings import Settings
from cimhub.store.subscriptions import Subscription
from cimhub.testing.bus import FAST, ThreadWorker, qualified_in, readings_in
from cimhub.testing.databases import postgres_database
from cimhub.testing.messages import created_meter_readings
from cimhub.testing.proxy import TcpProxy
from cimhub.testing.receiver import Receiver
from cimhub.testing.replies import ParsedReply
from cimhub.testing.server import running_hub
from cimhub.testing.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
DAY = datetime(2026, 3, 1, tzinfo=UTC)
SOURCE_MESSAGES = 60  # one-meter messages from each HES


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def plain(url: str) -> str:
    """The psycopg form of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def stored(url: str) -> int:
    with psycopg.connect(plain(url)) as connection:
        row = connection.execute("SELECT count(*) FROM interval_reading").fetchone()
        versions = connection.execute("SELECT count(*) FROM interval_reading_version").fetchone()
    assert versions == (0,), "a reading was stored twice with another value"
    return int(row[0]) if row else 0


def publish_all(amqp_url: str, bodies: list[bytes], tenant: str = "t1") -> None:
    """What an HES does over AMQP: persistent, confirmed messages to cimhub.inbound."""
    with Connection(amqp_url, transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        topology.inbound_queue()(channel).declare()
        producer = Producer(channel)
        for body in bodies:
            producer.publish(
                body,
                routing_key=topology.INBOUND,
                delivery_mode=2,
                content_type="application/xml",
                content_encoding="binary",
                headers={topology.H_TENANT: tenant},
            )


def depth(amqp_url: str, queue: str) -> int:
    with Connection(amqp_url) as connection:
        _, messages, _ = connection.default_channel.queue_declare(queue, passive=True)
    return int(messages)


class WorkerProcess:
    """A real `cimhub worker` process."""

    def __init__(self, database_url: str, amqp_url: str, log: Path) -> None:
        env = {
            **os.environ,
            "CIMHUB_DATABASE_URL": database_url,
            "CIMHUB_BROKER_URL": amqp_url,
            **{f"CIMHUB_{k.upper()}": str(v) for k, v in FAST.items()},
        }
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cimhub.cli", "worker"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[str, str], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(database_url: str, amqp_url: str) -> WorkerProcess:
        worker = WorkerProcess(database_url, amqp_url, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def consumers(amqp_url: str, queue: str = topology.INBOUND) -> int:
    try:
        with Connection(amqp_url) as connection:
            return int(connection.default_channel.queue_declare(queue, passive=True)[2])
    except Exception:
        return 0


def validated(url: str) -> dict[tuple[str, str, int], tuple[float, str]]:
    """(meter mRID, reading type, ts) → (value, quality) of the validated layer."""
    with psycopg.connect(plain(url)) as connection:
        rows = connection.execute(
            "SELECT m.mrid, t.code, v.ts, v.value, v.quality FROM validated_reading v "
            "JOIN meter m ON m.id = v.meter_id JOIN reading_type t ON t.id = v.reading_type_id"
        ).fetchall()
    return {(mrid, code, ts): (value, quality) for mrid, code, ts, value, quality in rows}


def settled(url: str, amqp_url: str, messages: int) -> bool:
    """Every distinct message handled, its events relayed and delivered (none in flight)."""
    with psycopg.connect(plain(url)) as connection:
        done = connection.execute(
            "SELECT count(*) FROM message_log WHERE completed_at IS NOT NULL"
        ).fetchone()
        outbox = connection.execute("SELECT count(*) FROM outbox").fetchone()
    return done == (messages,) and outbox == (0,) and in_queue(amqp_url, "billing") == 0


def in_queue(amqp_url: str, subscription: str) -> int:
    """Messages in a subscription's queue, ready or being delivered (rabbitmqctl)."""
    vhost = make_url(amqp_url).database or "/"
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    queue = topology.SUBSCRIPTION_PREFIX + subscription
    return sum(
        int(p[1]) for p in (line.split() for line in out.splitlines()) if p and p[0] == queue
    )


def test_two_workers_two_hes_sources_exact_counts_and_billing_exactly_once(
    pg_url: str, amqp_url: str, workers: Callable[[str, str], WorkerProcess]
) -> None:
    """The done-when of #3: the billing subscriber gets every validated reading (values
    after VEE, with their quality codes) exactly once, though the head-ends resend."""
    settings = Settings(database_url=pg_url, broker_url=amqp_url, **FAST)  # type: ignore[arg-type]
    with Receiver() as billing, running_hub(settings) as (hub, base):
        assert hub.bus is not None
        hub.bus.put_subscription(
            Subscription(
                name="billing", noun="MeterReadings", verbs=("created",), address=billing.url
            )
        )
        workers(pg_url, amqp_url)
        workers(pg_url, amqp_url)
        wait_until(lambda: consumers(amqp_url) == 2, timeout=30)
        from_a = [
            created_meter_readings([m], DAY, 96, source="HES-A") for m in range(SOURCE_MESSAGES)
        ]
        from_b = [
            created_meter_readings([1000 + m], DAY, 96, source="HES-B")
            for m in range(SOURCE_MESSAGES)
        ]
        # HES B also reports ten of HES A's meters (same values), and sends its first ten
        # messages twice (the same MessageIDs): neither may reach billing a second time.
        from_b += [created_meter_readings([m], DAY, 96, source="HES-B") for m in range(10)]
        from_b += from_b[:10]
        # Both head-ends serve the default tenant (HES A's HTTP requests name none).
        hes_b = threading.Thread(target=publish_all, args=(amqp_url, from_b, "default"))
        hes_b.start()  # HES B publishes over AMQP while HES A posts over HTTP
        with httpx.Client(timeout=60) as client:
            for body in from_a:
                assert client.post(base + "/cim", content=body).status_code == 200
            for body in from_a[:10]:  # a resend of the same messages
                assert client.post(base + "/cim", content=body).status_code == 200
            for m in range(10, 20):  # and of the same readings under new MessageIDs
                body = created_meter_readings([m], DAY, 96, source="HES-A")
                assert client.post(base + "/cim", content=body).status_code == 200
        hes_b.join(timeout=60)
        total = 2 * SOURCE_MESSAGES * 96
        wait_until(lambda: stored(pg_url) == total, timeout=240)
        wait_until(lambda: len(readings_in(billing.bodies)) >= total, timeout=120)
        wait_until(lambda: settled(pg_url, amqp_url, 2 * SOURCE_MESSAGES + 20), timeout=120)
        got = readings_in(billing.bodies)
        assert len(got) == len(set(got)) == total  # every reading, exactly once
        assert qualified_in(billing.bodies) == validated(pg_url)  # as VEE left them
        assert stored(pg_url) == total


def test_sigkill_a_worker_mid_batch_then_restart_exact_counts(
    pg_url: str, amqp_url: str, workers: Callable[[str, str], WorkerProcess]
) -> None:
    messages = 105  # ten meters each: 100,800 readings
    bodies = [created_meter_readings(range(10 * m, 10 * m + 10), DAY, 96) for m in range(messages)]
    kill_a_worker_mid_run(pg_url, amqp_url, workers, bodies, messages * 10 * 96)


def kill_a_worker_mid_run(
    pg_url: str,
    amqp_url: str,
    workers: Callable[[str, str], WorkerProcess],
    bodies: list[bytes],
    total: int,
) -> None:
    """Publish ``bodies``, SIGKILL the worker handling them mid-run, start another: every
    one of the ``total`` readings is then stored exactly once."""
    with running_hub(Settings(database_url=pg_url, broker_url=amqp_url)):  # declares the topology
        pass
    publish_all(amqp_url, bodies)
    first = workers(pg_url, amqp_url)
    wait_until(lambda: stored(pg_url) >= total // 5, timeout=120, every=0.02)
    first.kill()
    assert stored(pg_url) < total, "the worker finished before it could be killed"
    workers(pg_url, amqp_url)
    wait_until(lambda: stored(pg_url) == total, timeout=180)
    wait_until(lambda: depth(amqp_url, topology.INBOUND) == 0, timeout=30)
    assert stored(pg_url) == total


def test_sigkill_a_worker_mid_group_of_one_meter_messages_loses_and_doubles_nothing(
    pg_url: str, amqp_url: str, workers: Callable[[str, str], WorkerProcess]
) -> None:
    """Workers handle one-meter pushes as groups (one transaction, replies and acks after
    its commit): killed mid-run, a worker loses no message and stores none twice, though
    the head-end also resends some (the same MessageIDs)."""
    messages = 600
    bodies = [created_meter_readings([m], DAY, 96, message_id=f"push-{m}") for m in range(messages)]
    bodies += bodies[::20]  # resends of every twentieth push, after the originals
    total = messages * 96
    kill_a_worker_mid_run(pg_url, amqp_url, workers, bodies, total)
    assert len(validated(pg_url)) == total
    with psycopg.connect(plain(pg_url)) as connection:
        logged = connection.execute(
            "SELECT message_key, count(*) FROM message_log WHERE result = 'OK' GROUP BY 1"
        ).fetchall()
        rows = connection.execute(
            "SELECT count(DISTINCT r.message_log_id), count(*) FROM interval_reading r "
            "JOIN message_log l ON l.id = r.message_log_id AND l.result = 'OK'"
        ).fetchone()
    assert sorted(logged) == sorted((f"push-{m}", 1) for m in range(messages))
    assert rows == (messages, total)  # every row names the one message that stored it


def test_broker_cut_during_a_run_publishers_back_off_and_nothing_is_lost(
    pg_url: str, amqp_url: str, start_worker: Callable[[Settings], ThreadWorker]
) -> None:
    url = make_url(amqp_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5672) as proxy:
        via_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
        settings = Settings(
            database_url=pg_url,
            broker_url=via_proxy,
            reply_wait_seconds=5,
            **FAST,  # type: ignore[arg-type]
        )
        start_worker(settings)
        with running_hub(settings) as (_hub, base), httpx.Client(timeout=60) as client:
            results = []
            for m in range(60):
                if m == 20:
                    proxy.cut()
                    threading.Timer(2.0, proxy.restore).start()
                reply = client.post(base + "/cim", content=created_meter_readings([m], DAY, 96))
                results.append((reply.status_code, ParsedReply.of(reply.content).codes))
            assert all(status == 200 for status, _ in results), results
            wait_until(lambda: stored(pg_url) == 60 * 96, timeout=60)


def test_database_cut_messages_stay_queued_readyz_red_then_green(
    pg_url: str, amqp_url: str, start_worker: Callable[[Settings], ThreadWorker]
) -> None:
    db = make_url(pg_url)
    with TcpProxy(db.host or "127.0.0.1", db.port or 5432) as proxy:
        via_proxy = db.set(port=proxy.port).render_as_string(hide_password=False)
        settings = Settings(database_url=via_proxy, broker_url=amqp_url, **FAST)  # type: ignore[arg-type]
        start_worker(settings)
        with running_hub(settings) as (_hub, base):
            assert httpx.get(base + "/readyz").status_code == 200
            proxy.cut()
            red = httpx.get(base + "/readyz", timeout=30)
            assert red.status_code == 503 and red.json()["checks"]["database"] == "unreachable"
            publish_all(amqp_url, [created_meter_readings([m], DAY, 96) for m in range(30)])
            wait_until(lambda: depth(amqp_url, topology.INBOUND) + unacked(amqp_url) > 0, 10)
            assert stored(pg_url) == 0  # nothing could be stored, nothing was dropped
            proxy.restore()
            wait_until(lambda: stored(pg_url) == 30 * 96, timeout=60)
            wait_until(lambda: httpx.get(base + "/readyz").status_code == 200, timeout=30)
        assert depth(amqp_url, topology.INBOUND) == 0
        assert stored(pg_url) == 30 * 96


def unacked(amqp_url: str) -> int:
    """Messages delivered to a consumer and not yet acked (rabbitmqctl)."""
    vhost = make_url(amqp_url).database or "/"
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages_unacknowledged"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == topology.INBOUND:
            return int(parts[1])
    return 0
