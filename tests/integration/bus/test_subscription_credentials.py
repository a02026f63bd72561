"""Subscription credentials: sealed at rest with the hub's key, used to call the subscriber,
never returned by the REST API nor logged; without a key they are refused."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cimhub.settings import Settings
from cimhub.store.subscriptions import SubscriptionRow
from cimhub.testing.bus import FAST
from cimhub.testing.messages import created_meter_readings
from cimhub.testing.receiver import Receiver
from cimhub.testing.server import running_hub

DAY = datetime(2026, 3, 1, tzinfo=UTC)
SECRET = "billing:s3cret-Pa55"
PATH = "/api/v1/subscriptions/billing"


def subscription(address: str, **extra: object) -> dict[str, object]:
    return {"noun": "MeterReadings", "verbs": ["created"], "address": address, **extra}


def test_credentials_are_sealed_sent_and_never_shown(
    database_url: str, receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_text("a key only this test knows\n")
    settings = Settings(database_url=database_url, secret_key_file=str(key_file), **FAST)  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG)
    with running_hub(settings) as (hub, base), httpx.Client(base_url=base) as client:
        put = client.put(PATH, json=subscription(receiver.url, credentials=SECRET))
        assert put.status_code == 200, put.text
        shown = [put.json(), client.get(PATH).json(), *client.get(PATH[: PATH.rindex("/")]).json()]
        assert all(s["has_credentials"] is True and "credentials" not in s for s in shown)
        with hub.database.unit_of_work(hub=True) as uow:
            stored = uow.session.scalar(select(SubscriptionRow.credentials))
        assert stored is not None and stored.startswith("fernet:") and "s3cret" not in stored
        assert client.post("/cim", content=created_meter_readings([1], DAY, 4)).status_code == 200
        receiver.wait_for(1)
        # read while the hub runs: after close() a read opens a connection nobody closes
        listed = repr(hub.bus.subscriptions())  # type: ignore[union-attr]
    expected = "Basic " + base64.b64encode(SECRET.encode()).decode()
    assert receiver.authorizations == [expected]
    assert "s3cret" not in caplog.text and "s3cret" not in listed


def test_without_a_key_credentials_are_refused_and_nothing_is_stored(
    database_url: str, receiver: Receiver
) -> None:
    settings = Settings(database_url=database_url, **FAST)  # type: ignore[arg-type]
    with running_hub(settings) as (_hub, base), httpx.Client(base_url=base) as client:
        refused = client.put(PATH, json=subscription(receiver.url, credentials=SECRET))
        assert refused.status_code == 503
        assert "CIMHUB_SECRET_KEY" in refused.json()["detail"]
        assert "s3cret" not in refused.text
        assert client.get(PATH).status_code == 404
        assert client.put(PATH, json=subscription(receiver.url)).status_code == 200
