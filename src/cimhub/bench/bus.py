"""Ingest over RabbitMQ: the same traffic published to ``cimhub.inbound``, handled by one or
two `cimhub worker` processes, timed from the first publish to the last reply.

This is the production path (`cimhub serve` with a broker URL publishes exactly this way):
workers group what arrived into one transaction (``worker_batch_messages``), so one-meter
messages share commits here, which the in-process pipeline cannot do. Each run gets a
fresh PostgreSQL database and a private RabbitMQ vhost. The workers are separate
processes free to use every core; PostgreSQL, RabbitMQ and this publisher share them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cimhub.bench.context import TENANT, BenchError, Context
from cimhub.bench.repeats import median, run_all, spread
from cimhub.bench.scenario import Figure, ScenarioUnavailable
from cimhub.bench.traffic import Traffic
from cimhub.bus import topology
from cimhub.testing import rabbitmq

BACKEND = "postgresql"  # SQLite has one writer: competing workers would only queue on it
READY_SECONDS = 60.0
REPLY_SECONDS = 600.0


def run_one_worker(ctx: Context) -> list[Figure]:
    return _run(ctx, 1)


def run_two_workers(ctx: Context) -> list[Figure]:
    return _run(ctx, 2)


def _run(ctx: Context, workers: int) -> list[Figure]:
    if BACKEND not in ctx.backends:
        raise ScenarioUnavailable("needs PostgreSQL")
    if not rabbitmq.available():
        raise ScenarioUnavailable(
            f"no RabbitMQ (with rabbitmqctl) at {rabbitmq.RABBITMQ_HOST}:{rabbitmq.RABBITMQ_PORT}"
        )
    figures = []
    largest = max(ctx.plan.sizes)
    runs = [(size, ctx.plan.population, "") for size in ctx.plan.sizes]
    # Over the plan's population every message of the largest size is the same meters'
    # next day, so two workers take a meter's days at once and wait on each other; the
    # last run, as two head-ends would send it, makes consecutive messages other meters.
    meters = f"{2 * largest:,}".replace(",", " ")
    runs.append((largest, 2 * largest, f", {meters} meters of two head-ends"))
    name = f"workers_{workers}"

    def one(case: tuple[int, int, str], label: str) -> float:
        size, population, what = case
        with ctx.database(BACKEND) as db_url, rabbitmq.vhost("cimhub-bench") as vhost:
            ctx.install_meters(ctx.store(db_url), population)  # before the workers start
            broker = rabbitmq.url(vhost)
            with _workers(workers, db_url, broker), _Client(broker) as client:
                client.wait_for_consumers(workers)
                which = f"{what.removeprefix(', ')} {label}".strip()
                traffic = ctx.traffic(size, population)
                return _measure(ctx, client, traffic, workers, db_url, which)

    for (size, population, what), done in run_all(runs, ctx.plan.repeats, one).items():
        label = ctx.traffic(size, population).label + what
        values = {name: median(done, float)} | spread(name, done)
        figures.append(Figure("bus", (BACKEND, label), values))
    return figures


def _measure(
    ctx: Context, client: _Client, traffic: Traffic, workers: int, db_url: str, label: str
) -> float:
    for raw in traffic.warmup:  # registers the meters, one message at a time
        client.send_all([raw])
    ctx.analyse(db_url)
    per_message = traffic.size * traffic.intervals
    who = f"{workers} worker{'s' * (workers > 1)}"
    title = f"ingest RabbitMQ {who} {traffic.label} {label}".strip()
    with ctx.task(title, traffic.readings) as advance:
        wall = time.perf_counter()
        client.send_all(traffic.messages, on_reply=lambda: advance(per_message))
        wall = time.perf_counter() - wall
    return traffic.readings / wall


@contextmanager
def _workers(count: int, db_url: str, broker: str) -> Iterator[None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMHUB_")}
    env |= {"CIMHUB_DATABASE_URL": db_url, "CIMHUB_BROKER_URL": broker}
    every_core = set(range(os.cpu_count() or 1))
    with tempfile.TemporaryFile() as log:
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "cimhub.cli", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                # the benchmark pins itself to one core; its workers must not inherit that
                preexec_fn=lambda: os.sched_setaffinity(0, every_core),
            )
            for _ in range(count)
        ]
        try:
            yield
        except BenchError as exc:
            log.seek(0)
            raise BenchError(f"{exc}; the workers said:\n{log.read()[-2000:].decode()}") from exc
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


class _Client:
    """A publisher with a private reply queue: publish everything, collect every reply."""

    def __init__(self, broker: str) -> None:
        from kombu import Connection, Consumer, Producer, Queue

        self.connection = Connection(broker, connect_timeout=5)
        self.channel = self.connection.channel()
        self.replies = Queue(
            f"bench.reply.{uuid.uuid4().hex[:12]}", exclusive=True, auto_delete=True, durable=False
        )
        self.replies(self.channel).declare()
        self.producer = Producer(self.channel)
        self.pending: set[str] = set()
        self.failed: list[str] = []
        self.on_reply = lambda: None
        self.consumer = Consumer(self.channel, [self.replies], on_message=self._reply, accept=None)
        self.consumer.consume()

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.consumer.cancel()
        self.connection.release()

    def wait_for_consumers(self, workers: int) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:  # bounded poll: workers declare then consume
            channel = self.connection.channel()
            try:
                _, _, consumers = topology.inbound_queue()(channel).queue_declare(passive=True)
                if consumers >= workers:
                    return
            except self.connection.channel_errors:  # not declared yet (closes the channel)
                pass
            finally:
                with contextlib.suppress(*self.connection.channel_errors):
                    channel.close()
            time.sleep(0.2)
        raise BenchError(f"{workers} `cimhub worker` processes did not start consuming")

    def _reply(self, message: Any) -> None:
        correlation = (message.properties or {}).get("correlation_id")
        if correlation in self.pending:
            self.pending.discard(correlation)
            result = (message.headers or {}).get(topology.H_RESULT)
            if result != "OK":
                self.failed.append(f"{result} {(message.headers or {}).get(topology.H_CODE)}")
            self.on_reply()
        message.ack()

    def send_all(self, messages: list[bytes], on_reply: Any = None) -> None:
        """Publish every message (persistent) and wait until each has an OK reply."""
        self.on_reply = on_reply or (lambda: None)
        for raw in messages:
            correlation = uuid.uuid4().hex
            self.pending.add(correlation)
            self.producer.publish(
                raw,
                exchange="",
                routing_key=topology.INBOUND,
                reply_to=self.replies.name,
                correlation_id=correlation,
                delivery_mode=2,
                content_type="application/xml",
                content_encoding="binary",
                headers={topology.H_TENANT: TENANT},
                serializer=None,
            )
        deadline = time.monotonic() + REPLY_SECONDS
        while self.pending and time.monotonic() < deadline:
            try:
                self.connection.drain_events(timeout=1.0)
            except TimeoutError:
                continue
        if self.pending:
            raise BenchError(f"{len(self.pending)} messages got no reply in {REPLY_SECONDS} s")
        if self.failed:
            raise BenchError(f"ingest over RabbitMQ answered {self.failed[:5]}")
