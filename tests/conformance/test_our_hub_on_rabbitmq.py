"""Our hub on the message bus: `cimhub serve` publishing to a private RabbitMQ vhost and a
`cimhub worker` process handling, on PostgreSQL, against every mdm case over AMQP (the
61968-100 JMS pattern on AMQP), HTTP and SOAP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cimhub.conformance.case import Role
from cimhub.conformance.runner import Status
from cimhub.testing import rabbitmq
from cimhub.testing.databases import postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def bus_hub(harness: Any, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(HTTP base URL, AMQP target) of a hub whose handlers run in a worker process."""
    assert rabbitmq.available(), "RabbitMQ (and rabbitmqctl) must run for this test"
    with postgres_database() as db_url, rabbitmq.vhost() as vhost:
        broker = rabbitmq.url(vhost)
        env = harness.hub_env | {"CIMHUB_DATABASE_URL": db_url, "CIMHUB_BROKER_URL": broker}
        with (
            harness.serve_hub(db_url, tmp_path, CIMHUB_BROKER_URL=broker) as base,
            harness.process(["worker"], tmp_path, env, "worker.log"),
        ):
            yield base, f"{broker}#cimhub.inbound"


@pytest.mark.parametrize("transport", ["amqp", "http", "soap"])
def test_our_hub_on_rabbitmq_passes_every_mdm_case(
    harness: Any, bus_hub: tuple[str, str], transport: str
) -> None:
    base, amqp_target = bus_hub
    targets = (amqp_target,) if transport == "amqp" else ()
    report = harness.run(Role.MDM, transport, base, *targets)

    failures = harness.failed(report)
    unexpected = {k: v for k, v in failures.items() if k not in harness.known_hub_defects}
    assert not unexpected, "\n\n".join(f"{k}:\n{v}" for k, v in unexpected.items())
    assert set(failures) == harness.known_hub_defects, "a defect is fixed: update the list"
    passed = [r for r in report.results if r.status is Status.PASSED]
    assert len(passed) >= 50, [(r.case.id, r.status) for r in report.results]
    if transport == "amqp":  # the hostile set is refused over the queue too
        assert any("hostile" in r.case.tags for r in passed)
