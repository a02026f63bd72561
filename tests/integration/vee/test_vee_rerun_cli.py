"""`cimhub vee rerun` refreshes billing's daily aggregates of the period it re-validated,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.cli import main
from cimhub.mappings.timestamp import to_text
from cimhub.settings import Settings
from cimhub.store.billing_models import BillingDaily
from cimhub.testing.billing import Stay, add_usage_points, install
from cimhub.testing.messages import created_meter_readings, meter_mrid

TENANT = "discom-r"
IST = 330 * 60
#: local midnight two days ago (one local day of readings follows it)
DAY = (int(time.time()) + IST) // 86_400 * 86_400 - IST - 2 * 86_400


def daily(hub: Hub) -> list[dict[str, object]]:
    with hub.database.engine.connect() as c:
        return [json.loads(d) for d in c.execute(select(BillingDaily.data)).scalars()]


def test_a_rerun_refreshes_the_daily_aggregates_of_its_period(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = Hub.build(Settings(database_url=database_url, vee_enabled=False))
    try:
        with hub.database.unit_of_work(hub=True) as uow:
            tenant = uow.tenants.ensure(TENANT)
            add_usage_points(uow, tenant, ["UP1"])
            meters = install(uow, tenant, [Stay("UP1", meter_mrid(1), 0)])
        raw = created_meter_readings([1], datetime.fromtimestamp(DAY, UTC))
        assert b"OK" in hub.pipeline.process(Inbound(raw, TENANT, "test")).body
        assert daily(hub) == []  # VEE off: nothing validated, nothing aggregated
        monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
        start, end = to_text(DAY), to_text(DAY + 86_400)
        assert main(["vee", "rerun", "--tenant", TENANT, "--start", start, "--end", end]) == 0
        totals = json.loads(capsys.readouterr().out)
        assert (totals["meters"], totals["inserted"]) == (len(meters), 96)
        assert totals["daily_aggregates"] == 1
        [day] = daily(hub)
        assert day["present"] == 96 and day["energy"]
        assert main(["vee", "rerun", "--tenant", TENANT, "--start", start, "--end", end]) == 0
        again = json.loads(capsys.readouterr().out)
        assert (again["changed"], again["inserted"], again["daily_aggregates"]) == (0, 0, 0)
    finally:
        hub.close()
