"""A hub with credentials, a user and a JWT key, served over real HTTP on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cimhub.settings import Settings
from cimhub.testing.security import JWT_SECRET, SECRET_KEY, Secured, provision
from cimhub.testing.server import running_hub


@pytest.fixture
def secured(database_url: str) -> Iterator[Secured]:
    """A served hub requiring authentication; its keys and a JWT factory."""
    keys = provision(database_url)
    settings = Settings(database_url=database_url, jwt_secret=JWT_SECRET, secret_key=SECRET_KEY)
    with running_hub(settings) as (hub, base):
        yield Secured(hub, base, keys, settings)
