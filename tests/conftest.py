"""Fixtures shared by every test: backends are real (SQLite file, PostgreSQL server,
RabbitMQ, Mosquitto); hubs driven in-process through their pipeline or served over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer, Inbound
from cimhub.settings import Settings
from cimhub.testing import rabbitmq
from cimhub.testing.bus import ThreadWorker
from cimhub.testing.databases import postgres_database, sqlite_url
from cimhub.testing.receiver import Receiver
from cimhub.testing.server import running_hub

Send = Callable[..., Answer]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend: every storage test runs on both."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def make_hub(database_url: str) -> Iterator[Callable[..., Hub]]:
    """Build hubs on this backend (settings overridable), closed after the test."""
    with ExitStack() as hubs:  # each one closed even if closing another fails

        def make(**overrides: object) -> Hub:
            hub = Hub.build(Settings(database_url=database_url, **overrides))  # type: ignore[arg-type]
            hubs.callback(hub.close)
            return hub

        yield make


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()


@pytest.fixture
def send(hub: Hub) -> Send:
    """Hand raw bytes to the hub's pipeline as a transport would (tenant t1)."""

    def send(raw: bytes, tenant: str = "t1", transport: str = "test") -> Answer:
        return hub.pipeline.process(Inbound(raw, tenant, transport))

    return send


@pytest.fixture
def serve(database_url: str) -> Iterator[Callable[..., Any]]:
    """Start a hub on this backend over real HTTP (settings overridable); (hub, base URL)."""
    with ExitStack() as hubs:  # each one stopped even if stopping another fails

        def start(**overrides: Any) -> tuple[Hub, str]:
            settings = Settings(
                database_url=database_url,
                hes_backoff_seconds=0.2,
                hes_backoff_max_seconds=0.5,
                **overrides,
            )
            return hubs.enter_context(running_hub(settings))

        yield start


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP endpoint that records what subscribers are sent."""
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
    """`cimhub worker` in a thread, for hubs on RabbitMQ; stopped after the test."""
    with ExitStack() as workers:  # each one stopped even if stopping another fails

        def start(settings: Settings) -> ThreadWorker:
            worker = ThreadWorker(settings)
            workers.callback(worker.close)
            return worker

        yield start
