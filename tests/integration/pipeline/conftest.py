"""A hub wired to a fresh database on each backend, driven in-process through its pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer, Inbound
from cimhub.settings import Settings

Send = Callable[..., Answer]


@pytest.fixture
def make_hub(database_url: str) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def make(**overrides: object) -> Hub:
        hub = Hub.build(Settings(database_url=database_url, **overrides))  # type: ignore[arg-type]
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.close()


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()


@pytest.fixture
def send(hub: Hub) -> Send:
    def send(raw: bytes, tenant: str = "t1", transport: str = "test") -> Answer:
        return hub.pipeline.process(Inbound(raw, tenant, transport))

    return send
