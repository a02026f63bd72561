"""Commands end to end: a real hub over HTTP, the HES simulator, real Mosquitto."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cimhub.app import Hub
from cimhub.settings import Settings
from cimhub.testing.server import running_hub


@pytest.fixture
def serve(database_url: str) -> Iterator[Callable[..., Any]]:
    """Start a hub on this backend (settings overridable); yields (hub, base URL)."""
    stack: list[Any] = []

    def start(**overrides: Any) -> tuple[Hub, str]:
        settings = Settings(
            database_url=database_url,
            hes_backoff_seconds=0.2,
            hes_backoff_max_seconds=0.5,
            **overrides,
        )
        context = running_hub(settings)
        hub, base = context.__enter__()
        stack.append(context)
        return hub, base

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)
