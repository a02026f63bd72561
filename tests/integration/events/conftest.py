"""Events, outages and exceptions on both backends: a hub driven through its pipeline, a
DISCOM's master data (one DT of ten consumers) and an HTTP subscriber that records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer, Inbound
from cimhub.imports.csv_import import import_files
from cimhub.settings import Settings
from cimhub.testing.masterdata import write_discom
from cimhub.testing.receiver import Receiver

Send = Callable[..., Answer]
TENANT = "t1"


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
    def send(raw: bytes, tenant: str = TENANT, transport: str = "test") -> Answer:
        return hub.pipeline.process(Inbound(raw, tenant, transport))

    return send


@pytest.fixture
def discom(hub: Hub, tmp_path: Path) -> Hub:
    """DT0 with ten consumers, meters SM0000000 … SM0000009."""
    reports = import_files(hub.database, TENANT, write_discom(tmp_path, 10))
    assert all(r.applied for r in reports)
    return hub


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r
