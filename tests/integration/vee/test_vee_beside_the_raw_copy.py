"""Ingest with VEE on PostgreSQL: the rules judge a message's readings while the server
stores its raw rows (the COPY still open), unless a series has a hole that VEE reads back
whole from the store — then the raw rows are stored first, as before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.settings import Settings
from cimhub.store import vee
from cimhub.testing.databases import postgres_database
from cimhub.testing.messages import readings_message
from cimhub.testing.replies import ParsedReply
from cimhub.testing.vee_month import KWH

pytestmark = pytest.mark.postgres

DAY = (int(time.time()) // 86_400 - 2) * 86_400  # two days ago: no rule finds it too old
TS = [DAY + 900 * (i + 1) for i in range(96)]
HOLE = (60, 61)


@pytest.fixture
def hub_and_url() -> Iterator[tuple[Hub, str]]:
    with postgres_database() as url:
        hub = Hub.build(Settings(database_url=url, default_tenant="discom-a"))
        yield hub, url
        hub.close()


def copies_during_the_rules(monkeypatch: pytest.MonkeyPatch, url: str) -> list[list[str]]:
    """For each run of VEE's rules, the statements the server was busy with (another
    session's view): what the hub's connection was doing while the rules ran."""
    seen: list[list[str]] = []
    validate = vee.validate

    def watched(*args: Any, **kwargs: Any) -> Any:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as other:
            rows = other.execute(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND pid <> pg_backend_pid()"
            ).fetchall()
        seen.append([query for (query,) in rows])
        return validate(*args, **kwargs)

    monkeypatch.setattr(vee, "validate", watched)
    return seen


def send(hub: Hub, values: dict[int, float]) -> ParsedReply:
    reply = ParsedReply.of(
        hub.pipeline.process(Inbound(readings_message("M-1", {KWH: values}), "discom-a", "t")).body
    )
    assert reply.result == "OK", reply.reasons
    return reply


def test_the_rules_run_while_the_raw_rows_are_written(
    hub_and_url: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, url = hub_and_url
    seen = copies_during_the_rules(monkeypatch, url)
    reply = send(hub, {ts: 0.3 for ts in TS})
    assert "96 new" in reply.reasons[0] and "VEE: 96 validated" in reply.reasons[0]
    [busy] = seen
    assert any(q.startswith("COPY interval_reading") for q in busy), busy


def test_a_series_with_a_hole_is_stored_first_then_judged_whole(
    hub_and_url: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, url = hub_and_url
    holed = {ts: 0.3 for i, ts in enumerate(TS) if i not in HOLE}
    send(hub, {ts: 0.3 for i, ts in enumerate(TS) if i in HOLE})  # the hole's readings, early
    seen = copies_during_the_rules(monkeypatch, url)
    reply = send(hub, holed)
    # The stored readings fill the hole: no gap estimated, 96 validated.
    assert "VEE: 96 validated" in reply.reasons[0], reply.reasons
    [busy] = seen
    assert not any(q.startswith("COPY") for q in busy), busy
