"""Fixtures of the bus tests: hubs on the in-process bus and on a private RabbitMQ vhost,
with short delays (``FAST``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from cimhub.app import Hub
from cimhub.settings import Settings
from cimhub.testing.bus import FAST


@pytest.fixture
def make_hub(database_url: str) -> Iterator[Callable[..., Hub]]:
    with ExitStack() as hubs:  # each one closed even if closing another fails

        def make(**overrides: Any) -> Hub:
            hub = Hub.build(Settings(database_url=database_url, **{**FAST, **overrides}))
            hubs.callback(hub.close)
            return hub

        yield make
