"""Assessed consumption of points without a working meter, on SQLite and PostgreSQL:
stored in the validated layer (estimated, versioned, audited; raw untouched), answered by
GetMeterReadings by usage point, summed by billing, run by the daily job and the CLI.

Hand-computed: the tenant's file sets 10 h × load factor 0.5 for every point; its stored
overrides (what PUT /api/v1/vee/config keeps) set 8 h × 0.75 for agricultural points.

* AG1, agricultural, unmetered, 5 kW connected, DT1: 5 × 8 × 0.75 = 30 kWh a day; on
  3 January DT1 is out 00:00–20:00: 4 h of supply, 5 × 4 × 0.75 = 15.
* SL1, street light, unmetered, 1.2 kW connected burning 12 h (its operating hours), DT1:
  1.2 × 12 × 0.5 = 7.2 a day; on 3 January 4 h: 2.4.
* C1, residential, metered, 2 kW sanctioned; its meter removed on 10 January at 12:00:
  that day half unmetered, min(10 × 0.5, 12) = 5 h, 2 × 5 × 0.5 = 5; from the 11th
  2 × 10 × 0.5 = 10 a day.
* C2, metered, never had a meter: not assessed (a connection still to be metered).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.cli import main
from cimhub.handlers.assessments import assess
from cimhub.settings import Settings
from cimhub.store.audit import AuditLog
from cimhub.store.billing import R, run_cycle
from cimhub.store.bulk import insert_rows
from cimhub.store.dt_outages import DtOutageRow
from cimhub.store.master_models import HierarchyNode, UsagePoint
from cimhub.store.models import IntervalReading, Meter
from cimhub.store.subscriptions import Subscription
from cimhub.store.validated import CURRENT, VERSIONS
from cimhub.store.vee_config import VeeConfigs
from cimhub.testing.billing import Stay, add_usage_points, install
from cimhub.testing.messages import get_meter_readings
from cimhub.testing.receiver import Receiver
from cimhub.testing.replies import ParsedReply
from cimhub.vee.assessment import DAILY_KWH

TENANT = "discom-n"
DAY = 86_400
JAN1 = 1_735_689_600 - 19_800  #: 2025-01-01 00:00 IST


def midnight(day: int) -> int:
    """The start of local day ``day`` of January 2025 (the end of day - 1)."""
    return JAN1 + (day - 1) * DAY


CONFIG = """version = "nm-1"
[defaults]
non_metered_hours = 10.0
non_metered_load_factor = 0.5
"""


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    (tmp_path / "vee.toml").write_text(CONFIG)
    hub = Hub.build(
        Settings(database_url=database_url, vee_config=str(tmp_path / "vee.toml"), page_size=500)
    )
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure(TENANT)
        insert_rows(uow, HierarchyNode.__table__, [  # type: ignore[arg-type]
            {"tenant_id": tenant, "hierarchy": "network", "level": "dt", "code": "DT1",
             "name": "DT 1", "created_at": 0}])  # fmt: skip
        dt = uow.session.scalar(select(HierarchyNode.id).where(HierarchyNode.code == "DT1"))
        add_usage_points(uow, tenant, ["AG1"], category="agricultural", metered=False,
                         connected_load_kw=5.0, dt_node_id=dt)  # fmt: skip
        add_usage_points(uow, tenant, ["SL1"], category="street_light", metered=False,
                         connected_load_kw=1.2, operating_hours=12.0, dt_node_id=dt)  # fmt: skip
        add_usage_points(uow, tenant, ["C1", "C2"], sanctioned_load=2.0, load_unit="kW")
        install(uow, tenant, [Stay("C1", "M1", JAN1 - 365 * DAY, midnight(10) + DAY // 2)])
        insert_rows(uow, DtOutageRow.__table__, [  # type: ignore[arg-type]
            {"tenant_id": tenant, "node_id": dt, "start": midnight(3),
             "end": midnight(3) + 20 * 3600, "meters_off": 2, "meters_total": 2,
             "derived_at": 0}])  # a COPY naming the keyword column "end"  # fmt: skip
        VeeConfigs(uow).put(
            tenant,
            {"category": {"agricultural": {"non_metered_hours": 8.0,
                                           "non_metered_load_factor": 0.75}}},
            by="test", reason="agricultural supply: 8 h rationed", now=0,
        )  # fmt: skip
    yield hub
    hub.close()


def stored(hub: Hub, mrid: str) -> dict[int, tuple[float, str, str, str]]:
    """ts → (value, quality, method, reason) of a point's assessment series."""
    with hub.database.unit_of_work(hub=True) as uow:
        meter = uow.session.scalar(select(Meter.id).where(Meter.mrid == f"assessed:{mrid}"))
        c = CURRENT.c
        rows = uow.session.execute(
            select(c.ts, c.value, c.quality, c.method, c.reason).where(c.meter_id == meter)
        )
        return {ts: (v, q, m, r) for ts, v, q, m, r in rows}


def test_points_without_a_working_meter_are_assessed_into_the_validated_layer(
    hub: Hub,
) -> None:
    done = assess(hub.database, hub.settings, TENANT, midnight(1), midnight(16), now=JAN1)
    assert (done["usage_points"], done["days"], done["inserted"]) == (3, 15 + 15 + 6, 36)
    assert done["kwh"] == pytest.approx(14 * 30 + 15 + 14 * 7.2 + 2.4 + 5 + 5 * 10)
    ag = stored(hub, "AG1")
    assert len(ag) == 15 and ag[midnight(2)][:3] == (30.0, "3.8.0", "estimated:non_metered")
    assert ag[midnight(4)][0] == 15.0  # 3 January: DT1 out 20 h
    assert ag[midnight(2)][3] == (
        "connected load 5 kW × 8 h × load factor 0.75 (configured hours 8 h/day)"
    )
    sl = stored(hub, "SL1")
    assert (sl[midnight(2)][0], sl[midnight(4)][0]) == (7.2, 2.4)
    assert "operating hours 12 h/day" in sl[midnight(2)][3]
    c1 = stored(hub, "C1")
    assert sorted(c1) == [midnight(d) for d in range(11, 17)]  # the ends of 10–15 January
    assert (c1[midnight(11)][0], c1[midnight(12)][0]) == (5.0, 10.0)
    with hub.database.unit_of_work(hub=True) as uow:
        # C2 never had a meter: no assessment series
        assert uow.session.scalar(select(Meter.id).where(Meter.mrid == "assessed:C2")) is None
        # raw data untouched: the assessments are no reading any meter sent
        assert uow.session.scalar(select(func.count()).select_from(IntervalReading)) == 0
        [entry] = [e for e in AuditLog(uow).entries(tenant=TENANT) if e.action == "vee.non_metered"]
        assert entry.actor == "cimhub" and json.loads(entry.after)["days"] == 36


def test_a_rerun_changes_nothing_and_a_changed_load_makes_new_versions(hub: Hub) -> None:
    period = (midnight(1), midnight(16))
    assess(hub.database, hub.settings, TENANT, *period, now=JAN1)
    again = assess(hub.database, hub.settings, TENANT, *period, now=JAN1 + 1)
    assert (again["inserted"], again["changed"], again["unchanged"]) == (0, 0, 36)
    with hub.database.unit_of_work(hub=True) as uow:
        uow.session.execute(
            UsagePoint.__table__.update()  # type: ignore[attr-defined]
            .where(UsagePoint.mrid == "AG1")
            .values(connected_load_kw=6.0)
        )
    changed = assess(hub.database, hub.settings, TENANT, *period, now=JAN1 + 2)
    assert (changed["changed"], changed["unchanged"]) == (15, 21)
    assert stored(hub, "AG1")[midnight(4)][0] == 18.0  # 6 × 4 × 0.75
    with hub.database.unit_of_work(hub=True) as uow:
        old = uow.session.execute(
            select(VERSIONS.c.ts, VERSIONS.c.value).where(VERSIONS.c.superseded_at == JAN1 + 2)
        ).all()
        runs = [e for e in AuditLog(uow).entries(tenant=TENANT) if e.action == "vee.non_metered"]
    assert len(old) == 15 and dict(old)[midnight(4)] == 15.0  # the earlier version stays
    assert [json.loads(e.after)["changed"] for e in runs] == [0, 15]  # the idle re-run: none


def test_get_meter_readings_by_usage_point_and_billing_see_the_assessments(hub: Hub) -> None:
    assess(hub.database, hub.settings, TENANT, midnight(1), midnight(16), now=JAN1)
    january = (datetime.fromtimestamp(JAN1, UTC), datetime.fromtimestamp(midnight(32), UTC))
    raw = get_meter_readings((), *january, usage_points=["AG1"])
    body = hub.pipeline.process(Inbound(raw, TENANT, "test")).body
    reply = ParsedReply.of(body)
    assert reply.result == "OK", reply.reasons
    got = reply.readings()
    assert len(got) == 15 and got[("assessed:AG1", DAILY_KWH, midnight(4))] == 15.0
    assert b"3.8.0" in body
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure(TENANT)
        result = run_cycle(uow, tenant, "2025-01")
        rows = {
            up: (ready, json.loads(data))
            for up, ready, data in uow.session.execute(
                select(R.c.usage_point_id, R.c.ready, R.c.data)
            )
        }
        ids = {m: p.id for m, p in uow.usage_points.match(tenant, {"AG1", "C1", "C2"}).items()}
    ready, ag = rows[ids["AG1"]]
    assert ready and ag["kwh_import"] == pytest.approx(435.0) and ag["assessed_days"] == 15
    assert rows[ids["C1"]][1]["assessed_kwh"] == 55.0  # with what its meter measured (none)
    assert "assessed_kwh" not in rows[ids["C2"]][1]
    assert result.usage_points == 4


def test_an_unassessed_non_metered_point_is_held_back_from_billing(hub: Hub) -> None:
    with hub.database.unit_of_work(hub=True) as uow:
        result = run_cycle(uow, uow.tenants.ensure(TENANT), "2025-01")
    assert "no assessed consumption" in result.held["AG1"]


def test_the_daily_job_assesses_the_last_two_days_and_the_cli_any_period(
    hub: Hub, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], receiver: Receiver,
) -> None:  # fmt: skip
    hub.bus.put_subscription(  # type: ignore[union-attr]
        Subscription("billing", "MeterReadings", ("changed",), receiver.url)
    )
    done = hub.assess_non_metered(at=midnight(20) + 3600)  # 20 January, 01:00
    assert done[TENANT]["inserted"] == 6  # 18 and 19 January of AG1, SL1 and C1
    assert done[TENANT]["announced"] == 1
    assert sorted(stored(hub, "AG1")) == [midnight(19), midnight(20)]
    # billing hears of them as MeterReadings changed, like any VEE estimate
    [body] = receiver.wait_for(1)
    assert b"assessed:AG1" in body and b"3.8.0" in body and DAILY_KWH.encode() in body
    monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("CIMHUB_VEE_CONFIG", str(tmp_path / "vee.toml"))
    args = ["vee", "non-metered", "--tenant", TENANT, "--period", "2025-01", "--user", "asha"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["days"] == 31 + 31 + 22 and (out["inserted"], out["unchanged"]) == (78, 6)
    with pytest.raises(SystemExit, match="YYYY-MM"):
        main(["vee", "non-metered", "--tenant", TENANT, "--period", "January"])
