"""A hub on each backend, driven in-process, for the VEE integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cimhub.app import Hub
from cimhub.settings import Settings
from cimhub.testing.receiver import Receiver
from cimhub.testing.vee_hub import VeeHub


@pytest.fixture
def vee_hub(database_url: str) -> Iterator[Hub]:
    hub = Hub.build(Settings(database_url=database_url, default_tenant="discom-a"))
    yield hub
    hub.close()


@pytest.fixture
def vee(database_url: str, tmp_path: Path) -> Iterator[VeeHub]:
    """A DISCOM's hub (tenant t1, meters SM0000000 …) driven in-process."""
    hub = VeeHub.build(database_url, tmp_path)
    yield hub
    hub.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r
