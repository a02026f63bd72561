"""Where messages' time goes: the pipeline's stages, exported on /metrics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from cimhub.settings import Settings
from cimhub.testing.messages import created_meter_readings, get_meter_readings, meter_mrid
from cimhub.testing.server import running_hub

DAY = datetime(2026, 3, 1, tzinfo=UTC)
INGEST_STAGES = {
    "parse", "validate", "dispatch", "begin", "idempotency", "map", "message log", "handle",
    "store raw", "vee history", "vee rules", "vee store", "vee findings",
    "daily aggregates", "reply", "commit", "rest",
}  # fmt: skip


def _stages(text: str, metric: str) -> dict[str, float]:
    pattern = rf'^{metric}{{stage="([^"]+)"}} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pattern, text, re.MULTILINE)}


def test_metrics_say_where_ingest_and_queries_spent_their_time(database_url: str) -> None:
    settings = Settings(database_url=database_url)  # type: ignore[call-arg]
    with running_hub(settings) as (hub, base), httpx.Client(base_url=base) as client:
        for day in range(2):
            sent = client.post(
                "/cim", content=created_meter_readings([1, 2], DAY + timedelta(day), 96)
            )
            assert sent.status_code == 200 and b"<msg:Result>OK" in sent.content, sent.text
        text = client.get("/metrics").text
        calls = _stages(text, "cimhub_stage_calls_total")
        seconds = _stages(text, "cimhub_stage_seconds_total")
        assert set(calls) >= INGEST_STAGES, sorted(calls)
        assert calls["store raw"] == calls["vee store"] == calls["commit"] == 2
        assert all(s >= 0 for s in seconds.values()) and seconds["store raw"] > 0

        query = get_meter_readings([meter_mrid(1)], DAY, DAY + timedelta(days=2))
        answered = client.post("/cim", content=query)
        assert answered.status_code == 200 and b"<msg:Result>OK" in answered.content
        after = _stages(client.get("/metrics").text, "cimhub_stage_calls_total")
        assert after["handle"] == calls["handle"] + 1  # the query's own work
        assert after["store raw"] == calls["store raw"]  # a query stores nothing
        assert after["idempotency"] == calls["idempotency"]  # queries are always fresh
        assert hub.pipeline.clock.totals()["handle"][1] == after["handle"]
