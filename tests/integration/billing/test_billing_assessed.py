"""Bill-readiness of a metered point whose meter was removed mid-cycle, on SQLite and
PostgreSQL: the days VEE assessed are complete, a metered day without data stays missing,
and without the assessment the point is held back naming the command that assesses it.

Hand-computed, June 2024 (IST, 30 days, 2880 expected 15-minute intervals); TOU: 18:00–22:00
peak (bucket 2), the rest normal (1). UP1: 2 kW sanctioned, assessed at 10 h × 0.5.

* M1 measures 0.5 kWh a quarter-hour (48 a day: 40 normal, 8 peak) until it is removed
  on 20 June at 12:00; 5 June 00:00–12:00 sent nothing (48 intervals, 24 kWh normal).
  Measured: 19 × 48 − 24 + 24 (20 June's morning) = 912 kWh; normal 19 × 40 = 760,
  peak 19 × 8 = 152; present 19 × 96 = 1824 intervals.
* Assessed: 20 June half unmetered, min(10 × 0.5, 12) = 5 h → 2 × 5 × 0.5 = 5 kWh;
  21–30 June 2 × 10 × 0.5 = 10 a day → 105 kWh over 11 days, 1008 intervals (10.5 days).
* kWh import 912 + 105 = 1017; TOU buckets hold the measured 912 only (an assessment has
  no time of day). Missing: 2880 − 1824 − 1008 = 48 → 1.67 %; unassessed: 36.67 %.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cimhub.billing.cycle import day_start
from cimhub.handlers.assessments import assess
from cimhub.settings import Settings
from cimhub.store.billing import determinants, run_cycle
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.daily_aggregates import refresh
from cimhub.store.database import Database
from cimhub.testing.billing import KWH_15, Stay, add_usage_points, install, put_validated

IST = ZoneInfo("Asia/Kolkata")
JUNE = day_start(date(2024, 6, 1), IST)
JULY = day_start(date(2024, 7, 1), IST)
DAY = 86_400
REMOVED = JUNE + 19 * DAY + DAY // 2  #: 20 June, 12:00
GAP = (JUNE + 4 * DAY, JUNE + 4 * DAY + DAY // 2)  #: 5 June 00:00–12:00, no data
CONFIG: dict[str, Any] = {
    "calendars": {"tod": {"buckets": {"1": "normal", "2": "peak"}, "seasons": [
        {"day_types": {"weekday": [["18:00", "22:00", 2]]}}]}},
    "assignments": [{"calendar": "tod", "from": "2024-01-01"}],
}  # fmt: skip
VEE = """version = "assessed-billing"
[defaults]
non_metered_hours = 10.0
non_metered_load_factor = 0.5
"""


@pytest.fixture
def seeded(db: Database, tmp_path: Path) -> tuple[int, Settings]:
    (tmp_path / "vee.toml").write_text(VEE)
    with db.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("t1")
        BillingConfigs(uow).put(tenant, CONFIG)
        add_usage_points(uow, tenant, ["UP1"], sanctioned_load=2.0, load_unit="kW")
        meters = install(uow, tenant, [Stay("UP1", "M1", JUNE - DAY, REMOVED)])
        stamps = [ts for ts in range(JUNE + 900, REMOVED + 1, 900) if not GAP[0] < ts <= GAP[1]]
        put_validated(uow, tenant, meters["M1"], KWH_15, stamps, [0.5] * len(stamps))
        refresh(uow, tenant, [(meters["M1"], JUNE, JULY)])
    return tenant, Settings(database_url=db.url, vee_config=str(tmp_path / "vee.toml"))


def bill(db: Database, tenant: int) -> tuple[dict[str, str], dict[str, Any]]:
    with db.unit_of_work(hub=True) as uow:
        result = run_cycle(uow, tenant, "2024-06")
        [row] = determinants(uow, tenant, cycle="2024-06")
    return result.held, row


def test_assessed_days_of_a_removed_meter_are_complete_for_billing(
    db: Database, seeded: tuple[int, Settings]
) -> None:
    tenant, settings = seeded
    done = assess(db, settings, "t1", JUNE, JULY, now=JULY)
    assert (done["days"], done["kwh"]) == (11, 105.0)
    held, row = bill(db, tenant)
    data = row["data"]
    assert held == {} and row["ready"] is True
    assert data["kwh_import"] == pytest.approx(1017.0)
    assert (data["assessed_kwh"], data["assessed_days"]) == (105.0, 11)
    assert data["tou"]["kwh_import"] == {"1": 760.0, "2": 152.0}  # measured energy only
    # 5 June's morning had a meter and no data: still missing; the assessed days are not
    assert (data["missing_pct"], data["estimated_pct"]) == (1.67, 0.0)
    with db.unit_of_work(hub=True) as uow:
        BillingConfigs(uow).put(tenant, CONFIG | {"readiness": {"max_missing_pct": 1.0}})
    held, _ = bill(db, tenant)
    assert held == {"UP1": "missing 1.67% > 1.0%"}


def test_without_the_assessment_the_point_is_held_back_naming_the_command(
    db: Database, seeded: tuple[int, Settings]
) -> None:
    tenant, _ = seeded
    held, row = bill(db, tenant)
    assert row["ready"] is False and row["data"]["missing_pct"] == 36.67
    assert held == {
        "UP1": "missing 36.67% > 5.0% "
        "(1008 intervals without a meter not assessed: cimhub vee non-metered)"
    }
    assert row["data"]["kwh_import"] == 912.0 and "assessed_kwh" not in row["data"]
