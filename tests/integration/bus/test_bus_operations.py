"""Operating the bus: subscriptions over REST, /metrics, /readyz, `cimhub dlq`."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from cimhub.cli import main
from cimhub.settings import Settings
from cimhub.testing.bus import FAST
from cimhub.testing.messages import created_meter_readings
from cimhub.testing.receiver import Receiver
from cimhub.testing.server import running_hub
from cimhub.testing.waiting import wait_until

DAY = datetime(2026, 3, 1, tzinfo=UTC)


def test_subscriptions_metrics_readiness_and_dlq_commands(
    database_url: str,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(database_url=database_url, secret_key="operations-test", **FAST)  # type: ignore[arg-type]
    with running_hub(settings) as (_hub, base), httpx.Client(base_url=base) as client:
        put = client.put(
            "/api/v1/subscriptions/billing",
            json={
                "noun": "MeterReadings",
                "verbs": ["created"],
                "address": receiver.url,
                "credentials": "billing:secret",
                "max_attempts": 2,
                "backoff_seconds": 0.05,
            },
        )
        assert put.status_code == 200, put.text
        listed = client.get("/api/v1/subscriptions").json()
        assert [s["name"] for s in listed] == ["billing"]
        assert listed[0]["has_credentials"] is True and "credentials" not in listed[0]
        assert client.get("/readyz").json()["checks"] == {
            "database": "ok",
            "broker": "ok (in-process)",
        }
        receiver.fail_with = 500
        assert client.post("/cim", content=created_meter_readings([1], DAY, 4)).status_code == 200
        receiver.wait_failures(2)
        dead = 'cimhub_dead_letters_total{queue="cimhub.sub.billing"} 1.0'

        def scraped() -> str:
            text = client.get("/metrics").text
            return text if dead in text else ""

        metrics = wait_until(scraped)
        assert 'cimhub_retries_total{queue="cimhub.sub.billing"} 1.0' in metrics
        assert "cimhub_dead_letters_stored 1.0" in metrics

        monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
        assert main(["dlq", "list"]) == 0
        out = capsys.readouterr().out
        assert "cimhub.sub.billing" in out and "HTTP 500" in out and "1 dead letter(s)" in out
        assert main(["dlq", "show", "1"]) == 0
        assert "CreatedMeterReadings" in capsys.readouterr().out
        receiver.fail_with = None
        assert main(["dlq", "replay"]) == 0
        assert "1 of 1 replayed" in capsys.readouterr().out
        assert main(["dlq", "replay", "1"]) == 0
        assert "already replayed" in capsys.readouterr().out
        receiver.wait_for(1)
        assert client.delete("/api/v1/subscriptions/billing").status_code == 204
        assert client.get("/api/v1/subscriptions/billing").status_code == 404
    assert len(receiver.bodies) == 1
