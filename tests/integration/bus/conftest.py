"""Fixtures of the bus tests: hubs on the in-process bus and on a private RabbitMQ vhost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cimhub.app import Hub
from cimhub.settings import Settings
from cimhub.testing import rabbitmq
from cimhub.testing.bus import FAST, ThreadWorker
from cimhub.testing.receiver import Receiver


@pytest.fixture
def make_hub(database_url: str) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def make(**overrides: Any) -> Hub:
        hub = Hub.build(Settings(database_url=database_url, **{**FAST, **overrides}))
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """A fresh vhost on the machine's RabbitMQ, deleted after the test."""
    if not rabbitmq.available():
        pytest.skip("RabbitMQ (and rabbitmqctl) not available")
    with rabbitmq.vhost() as name:
        yield rabbitmq.url(name)


@pytest.fixture
def start_worker() -> Iterator[Callable[[Settings], ThreadWorker]]:
    workers: list[ThreadWorker] = []

    def start(settings: Settings) -> ThreadWorker:
        worker = ThreadWorker(settings)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.close()
