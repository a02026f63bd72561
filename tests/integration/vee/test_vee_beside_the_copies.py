"""Ingest with VEE on PostgreSQL: the rules judge a message's readings while the server
stores its raw rows (the COPY still open), unless a series has a hole that VEE reads back
whole from the store — then the raw rows are stored first, as before. Billing's daily
aggregates are computed while the server stores the validated rows, their reads done
before. The validated layer's ``apply`` runs such work once on every path."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.domain.reading import MeterRef
from cimhub.settings import Settings
from cimhub.store import vee
from cimhub.store.daily_aggregates import Refresh
from cimhub.store.staging import COPYING
from cimhub.store.validated import ApplyCounts, Row, ValidatedRepository
from cimhub.store.vee_locks import lock_meters
from cimhub.testing.billing import Stay, add_usage_points, install
from cimhub.testing.databases import postgres_database
from cimhub.testing.messages import readings_message
from cimhub.testing.replies import ParsedReply
from cimhub.testing.vee_month import KWH

DAY = (int(time.time()) // 86_400 - 2) * 86_400  # two days ago: no rule finds it too old
TS = [DAY + 900 * (i + 1) for i in range(96)]
HOLE = (60, 61)


@pytest.fixture
def hub_and_url() -> Iterator[tuple[Hub, str]]:
    with postgres_database() as url:
        hub = Hub.build(Settings(database_url=url, default_tenant="discom-a"))
        yield hub, url
        hub.close()


def busy_during(
    monkeypatch: pytest.MonkeyPatch, url: str, owner: Any, name: str
) -> list[list[str]]:
    """For each call of ``owner.name``, the statements the server was busy with (another
    session's view): what the hub's connection was doing while that code ran."""
    seen: list[list[str]] = []
    original = getattr(owner, name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as other:
            rows = other.execute(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND pid <> pg_backend_pid()"
            ).fetchall()
        seen.append([query for (query,) in rows])
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, watched)
    return seen


def send(hub: Hub, values: dict[int, float]) -> ParsedReply:
    reply = ParsedReply.of(
        hub.pipeline.process(Inbound(readings_message("M-1", {KWH: values}), "discom-a", "t")).body
    )
    assert reply.result == "OK", reply.reasons
    return reply


@pytest.mark.postgres
def test_the_rules_run_while_the_raw_rows_are_written(
    hub_and_url: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, url = hub_and_url
    seen = busy_during(monkeypatch, url, vee, "validate")
    reply = send(hub, {ts: 0.3 for ts in TS})
    assert "96 new" in reply.reasons[0] and "VEE: 96 validated" in reply.reasons[0]
    [busy] = seen
    assert any(q.startswith("COPY interval_reading") for q in busy), busy


@pytest.mark.postgres
def test_a_series_with_a_hole_is_stored_first_then_judged_whole(
    hub_and_url: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, url = hub_and_url
    holed = {ts: 0.3 for i, ts in enumerate(TS) if i not in HOLE}
    send(hub, {ts: 0.3 for i, ts in enumerate(TS) if i in HOLE})  # the hole's readings, early
    seen = busy_during(monkeypatch, url, vee, "validate")
    reply = send(hub, holed)
    # The stored readings fill the hole: no gap estimated, 96 validated.
    assert "VEE: 96 validated" in reply.reasons[0], reply.reasons
    [busy] = seen
    assert not any(q.startswith("COPY") for q in busy), busy


@pytest.mark.postgres
def test_the_daily_aggregates_are_computed_while_the_validated_rows_are_written(
    hub_and_url: tuple[Hub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, url = hub_and_url
    at_a_usage_point(hub)
    seen = busy_during(monkeypatch, url, Refresh, "compute")
    send(hub, {ts: 0.25 for ts in TS})
    send(hub, {ts + 86_400: 0.5 for ts in TS})  # the next UTC day
    assert len(seen) == 2
    assert all(any(q.startswith("COPY validated_reading") for q in busy) for busy in seen), seen
    # IST days: the UTC days' 74 + 22 intervals, then 22 read back + the next day's 74.
    days = daily(hub)
    assert [d["present"] for d in days] == [74, 96, 22]
    assert [sum(d["energy"].values()) / 1e6 for d in days] == pytest.approx([18.5, 42.5, 11.0])


@pytest.mark.postgres
def test_with_a_users_edit_kept_the_days_are_read_back_after_the_write(
    hub_and_url: tuple[Hub, str],
) -> None:
    hub, _ = hub_and_url
    at_a_usage_point(hub)
    send(hub, {ts: 0.25 for ts in TS})
    edit = readings_message(
        "M-1", {KWH: {TS[10]: 2.25}}, verb="change", user="op-1", comment="meter test"
    )
    assert ParsedReply.of(hub.pipeline.process(Inbound(edit, "discom-a", "t")).body).result == "OK"
    send(hub, {ts: 0.25 for ts in TS})  # the same day again: VEE keeps the edit
    days = daily(hub)
    assert [sum(d["energy"].values()) / 1e6 for d in days] == pytest.approx([20.5, 5.5])


def at_a_usage_point(hub: Hub) -> None:
    """M-1 installed at a usage point since the day before: its days are aggregated."""
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("discom-a")
        add_usage_points(uow, tenant, ["UP-1"])
        install(uow, tenant, [Stay("UP-1", "M-1", DAY - 86_400)])


def daily(hub: Hub) -> list[dict[str, Any]]:
    with hub.database.engine.connect() as connection:
        rows = connection.execute(text("SELECT data FROM billing_daily ORDER BY day"))
        return [json.loads(data) for (data,) in rows]


def test_work_given_to_the_validated_layers_write_runs_once_on_every_path(
    database_url: str,
) -> None:
    hub = Hub.build(Settings(database_url=database_url, default_tenant="discom-a"))
    send(hub, {ts: 0.25 for ts in TS})
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("discom-a")
        [meter] = uow.meters.find(tenant, [MeterRef("M-1")])
        rt = uow.reading_types.find_ids([KWH])[KWH]

    def row(ts: int, value: float) -> Row:
        return Row(meter, rt, ts, "interval", value, "", "validated", "", "", "passed VEE", "v1")

    def apply(rows: list[Row], *, locked: bool) -> tuple[ApplyCounts, list[str | None]]:
        runs: list[str | None] = []
        with hub.database.unit_of_work(hub=True) as uow:
            if locked:
                lock_meters(uow, [meter])
            connection = uow.session.connection()
            counts = ValidatedRepository(uow).apply(
                tenant,
                rows,
                now=int(time.time()),
                meanwhile=lambda: runs.append(connection.info.get(COPYING)),
            )
        return counts, runs

    inside = "validated_reading" if hub.database.dialect == "postgresql" else None
    after = TS[-1] + 86_400
    assert apply([row(after, 1.0)], locked=True) == (ApplyCounts(inserted=1), [inside])
    assert apply([row(after + 900, 1.0)], locked=False) == (ApplyCounts(inserted=1), [None])
    assert apply([row(after, 1.0)], locked=True) == (ApplyCounts(unchanged=1), [None])
    hub.close()
