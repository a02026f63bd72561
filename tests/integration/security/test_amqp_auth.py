"""AMQP senders are credentials: RabbitMQ's validated user_id names the credential, which
binds the tenant and the roles; anonymous messages are refused once the hub is secured."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from amqp.exceptions import PreconditionFailed
from sqlalchemy import text

from cimhub.endpoints.amqp import request
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.testing import rabbitmq
from cimhub.testing.bus import FAST, ThreadWorker
from cimhub.testing.databases import postgres_database
from cimhub.testing.messages import created_meter_readings
from cimhub.testing.replies import ParsedReply
from cimhub.testing.security import as_change, provision, rabbitmq_user

pytestmark = pytest.mark.postgres
DAY = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass
class AmqpHub:
    settings: Settings
    urls: dict[str, str]  # credential name → AMQP URL of its RabbitMQ user
    keys: dict[str, str]  # credential name → API key
    ids: dict[str, str]  # credential name → public id (the RabbitMQ user name)


@pytest.fixture
def amqp_hub() -> Iterator[AmqpHub]:
    if not rabbitmq.available():
        pytest.skip("RabbitMQ (and rabbitmqctl) not available")
    with rabbitmq.vhost() as vhost, postgres_database() as db:
        keys = provision(db)
        ids = {name: keys[name].split(".")[0] for name in ("hes-a", "ro-a")}
        with (
            rabbitmq_user(vhost, ids["hes-a"], "pw-hes-a") as hes_url,
            rabbitmq_user(vhost, ids["ro-a"], "pw-ro-a") as ro_url,
        ):
            settings = Settings(database_url=db, broker_url=rabbitmq.url(vhost), **FAST)  # type: ignore[arg-type]
            worker = ThreadWorker(settings)
            try:
                yield AmqpHub(settings, {"hes-a": hes_url, "ro-a": ro_url}, keys, ids)
            finally:
                worker.close()


def readings_in(database: Database, tenant: str) -> int:
    query = text(
        "SELECT count(*) FROM interval_reading r JOIN tenant t ON t.id = r.tenant_id "
        "WHERE t.code = :tenant"
    )
    with database.engine.connect() as connection:
        return int(connection.execute(query, {"tenant": tenant}).scalar_one())


def codes(reply_body: bytes) -> list[str]:
    return ParsedReply.of(reply_body).codes


def test_a_credentials_user_publishes_into_its_own_tenant(amqp_hub: AmqpHub) -> None:
    reply = request(amqp_hub.urls["hes-a"], created_meter_readings([1], DAY, 4),
                    user_id=amqp_hub.ids["hes-a"], timeout=20)  # fmt: skip
    assert ParsedReply.of(reply.body).result == "OK", reply.body
    database = Database(amqp_hub.settings.database_url)
    try:
        assert readings_in(database, "a") == 4
        assert readings_in(database, "b") == 0
    finally:
        database.dispose()


def test_a_tenant_header_cannot_move_a_sender_to_another_tenant(amqp_hub: AmqpHub) -> None:
    reply = request(amqp_hub.urls["hes-a"], created_meter_readings([1], DAY, 4), tenant="b",
                    user_id=amqp_hub.ids["hes-a"], timeout=20)  # fmt: skip
    assert codes(reply.body) == ["6.2"]


def test_a_read_only_sender_may_not_push_readings(amqp_hub: AmqpHub) -> None:
    reply = request(amqp_hub.urls["ro-a"], created_meter_readings([1], DAY, 4),
                    user_id=amqp_hub.ids["ro-a"], timeout=20)  # fmt: skip
    assert codes(reply.body) == ["6.2"]


def test_an_anonymous_message_is_refused_once_the_hub_is_secured(amqp_hub: AmqpHub) -> None:
    reply = request(amqp_hub.settings.broker_url, created_meter_readings([1], DAY, 4),
                    tenant="a", timeout=20)  # fmt: skip
    assert codes(reply.body) == ["6.1"]


def test_rabbitmq_refuses_a_user_id_that_is_not_the_publisher(amqp_hub: AmqpHub) -> None:
    with pytest.raises(PreconditionFailed, match="user_id"):
        request(amqp_hub.urls["ro-a"], created_meter_readings([1], DAY, 4),
                user_id=amqp_hub.ids["hes-a"], timeout=5)  # fmt: skip


def test_the_edge_principal_is_the_audit_actor_behind_the_broker(amqp_hub: AmqpHub) -> None:
    """serve authenticates and publishes; the worker handles: the edit is still op-a's."""
    from cimhub.store.security import Security
    from cimhub.testing.server import running_hub

    keys = amqp_hub.keys
    with running_hub(amqp_hub.settings) as (hub, base):
        cim = f"{base}/cim"
        xml = {"Content-Type": "application/xml"}
        hes = {**xml, "Authorization": f"Bearer {keys['hes-a']}"}
        pushed = httpx.post(cim, content=created_meter_readings([1], DAY, 4), headers=hes)
        assert pushed.status_code == 200, pushed.text
        edit = as_change(created_meter_readings([1], DAY, 4), "op-17", "site visit")
        operator = {**xml, "Authorization": f"Bearer {keys['op-a']}"}
        edited = httpx.post(cim, content=edit, headers=operator, timeout=30)
        assert edited.status_code == 200, edited.text
        with hub.database.unit_of_work(hub=True) as uow:
            entries = Security(uow).audit.entries(tenant="a")
    assert [e.actor for e in entries if e.action == "MeterReadings.change"] == ["op-a"]
