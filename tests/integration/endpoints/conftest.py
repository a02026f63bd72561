"""A hub served over real HTTP on a free loopback port, on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cimhub.app import Hub
from cimhub.settings import Settings
from cimhub.testing.server import running_hub


@pytest.fixture
def live(database_url: str) -> Iterator[tuple[Hub, str]]:
    with running_hub(Settings(database_url=database_url, max_message_bytes=5_000_000)) as served:
        yield served
