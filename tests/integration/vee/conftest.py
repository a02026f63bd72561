"""A hub on each backend, driven in-process, for the VEE integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cimhub.app import Hub
from cimhub.settings import Settings


@pytest.fixture
def vee_hub(database_url: str) -> Iterator[Hub]:
    hub = Hub.build(Settings(database_url=database_url, default_tenant="discom-a"))
    yield hub
    hub.close()
