"""Schemathesis against the hub's own /openapi.json, over real HTTP: every operation gets
generated requests (valid and not); none may answer 5xx, and every answer must match the
status codes, media types and schemas the document declares.

Bounded (``MAX_EXAMPLES`` per operation) so CI stays within minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cimhub.settings import Settings
from cimhub.testing.server import running_hub
from cimhub.testing.tenancy import TENANT_A, as_tenant, seed_tenant

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api(database_url: str) -> Iterator[tuple[Any, str]]:
    settings = Settings(
        database_url=database_url,
        secret_key=Fernet.generate_key().decode(),  # subscription credentials can be sealed
    )
    with running_hub(settings) as (hub, base):
        seed_tenant(hub, TENANT_A)  # something to find, as well as much that is not there
        yield schemathesis.openapi.from_url(f"{base}/openapi.json"), base


def test_every_operation_answers_as_documented(api: tuple[Any, str]) -> None:
    schema, base = api
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same requests every run: a failure reproduces
            database=None,
        )
        def call(case: Any) -> None:
            case.call_and_validate(
                base_url=base, headers=as_tenant(TENANT_A), checks=CHECKS, timeout=30
            )

        try:
            call()
        except (Exception, BaseExceptionGroup) as error:  # every operation's, not the first only
            failures.append(f"{operation.label}: {error}")
    assert failures == [], "\n\n".join(failures)
