"""Billing against the store: daily aggregates from the validated layer, a late edit
re-aggregating one day, bill-readiness holding a usage point back, the export once."""

from __future__ import annotations

import json
from datetime import date
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, update

from cimhub.billing.cycle import day_number, day_start
from cimhub.billing.reading_types import energy
from cimhub.domain.installation import Role
from cimhub.handlers.billing import run_and_export
from cimhub.settings import Settings
from cimhub.store.billing import determinants
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.billing_models import BillingDaily
from cimhub.store.daily_aggregates import refresh
from cimhub.store.database import Database
from cimhub.store.models import Meter
from cimhub.store.outbox import OutboxRow
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.store.validated import Row, ValidatedRepository
from cimhub.testing.billing import KWH_15, Stay, add_usage_points, install, put_validated
from cimhub.testing.server import running_hub

IST = ZoneInfo("Asia/Kolkata")
JUNE = day_start(date(2024, 6, 1), IST)
D = BillingDaily.__table__


def seed(db: Database, days: int = 3) -> tuple[int, dict[str, int]]:
    with db.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("t1")
        add_usage_points(uow, tenant, ["UP1", "UP2"])
        meters = install(uow, tenant, [Stay("UP1", "M1", JUNE - 86_400), Stay("UP2", "M2", 0)])
        stamps = [JUNE + 900 * (i + 1) for i in range(96 * days)]
        put_validated(uow, tenant, meters["M1"], KWH_15, stamps, [0.5] * len(stamps))
        # UP2: a fifth of its intervals estimated
        put_validated(uow, tenant, meters["M2"], KWH_15, stamps[::5], [1.0] * len(stamps[::5]),
                      quality="3.8.0")  # fmt: skip
        rest = [ts for i, ts in enumerate(stamps) if i % 5]
        put_validated(uow, tenant, meters["M2"], KWH_15, rest, [1.0] * len(rest))
        refresh(uow, tenant, [(m, JUNE, JUNE + days * 86_400) for m in meters.values()])
    return tenant, meters


def daily(db: Database, meter: int) -> dict[int, dict[str, object]]:
    with db.engine.connect() as c:
        rows = c.execute(select(D.c.day, D.c.data).where(D.c.meter_id == meter))
        return {day: json.loads(data) for day, data in rows}


def test_a_late_vee_edit_re_aggregates_only_its_day(db: Database) -> None:
    tenant, meters = seed(db)
    first = day_number(date(2024, 6, 1))
    assert [d["energy"]["kwh_import"] for d in daily(db, meters["M1"]).values()] == [48_000_000] * 3
    with db.engine.begin() as c:  # mark day 1: a re-aggregation would overwrite this
        c.execute(update(D).where(D.c.day == first).values(data='{"untouched": true}'))
    with db.unit_of_work(hub=True) as uow:
        type_id = uow.reading_types.ids_for([KWH_15])[KWH_15]
        ts = JUNE + 86_400 + 900 * 10  # day 2
        row = Row(meters["M1"], type_id, ts, "interval", 2.5, "3.7.0", "edited", "", "u", "fix", "")
        ValidatedRepository(uow).apply(tenant, [row], now=1)
        refresh(uow, tenant, [(meters["M1"], ts - 1, ts)])
    days = daily(db, meters["M1"])
    assert days[first] == {"untouched": True}
    assert days[first + 1]["energy"]["kwh_import"] == 50_000_000  # 48 − 0.5 + 2.5 kWh
    assert days[first + 2]["energy"]["kwh_import"] == 48_000_000


def test_daily_aggregates_follow_each_stay_its_role_and_its_meters_multiplier(
    db: Database,
) -> None:
    """A meter exchange in the middle of day 2 at UP1 (M1 out, M3 in, each day counting only
    the intervals inside the meter's stay), a check meter beside them, a CT-operated meter
    (its kWh × its CT ratio): every daily row, and no row outside a stay."""
    exchange = JUNE + 86_400 + 6 * 3600  # day 2, 06:00 IST
    with db.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("t1")
        add_usage_points(uow, tenant, ["UP1"])
        meters = install(
            uow,
            tenant,
            [
                Stay("UP1", "M1", JUNE - 86_400, exchange),
                Stay("UP1", "M3", exchange),
                Stay("UP1", "M2", JUNE - 86_400, role=Role.CHECK),
            ],
        )
        uow.session.execute(
            update(Meter).where(Meter.id == meters["M3"]).values(ct_ratio=200, pt_ratio=None)
        )
        stamps = [JUNE + 900 * (i + 1) for i in range(96 * 3)]
        for mrid in ("M1", "M2", "M3"):
            put_validated(uow, tenant, meters[mrid], KWH_15, stamps, [0.5] * len(stamps))
        refresh(uow, tenant, [(m, JUNE, JUNE + 3 * 86_400) for m in meters.values()])
    first = day_number(date(2024, 6, 1))
    with db.engine.connect() as c:
        rows = c.execute(select(D.c.meter_id, D.c.day, D.c.role, D.c.data)).all()
    found = {
        (mrid, day - first + 1, role): json.loads(data)["energy"]["kwh_import"]
        for meter, day, role, data in rows
        for mrid in meters
        if meters[mrid] == meter
    }
    kwh = 1_000_000  # mWh
    assert found == {
        ("M1", 1, "main"): 48 * kwh,
        ("M1", 2, "main"): 12 * kwh,  # 00:00–06:00: 24 intervals
        ("M3", 2, "main"): 72 * 200 // 2 * kwh,  # 06:00–24:00: 72 intervals × CT 200
        ("M3", 3, "main"): 96 * 200 // 2 * kwh,
        **{("M2", day, "check"): 48 * kwh for day in (1, 2, 3)},
    }


def test_a_usage_point_past_the_estimated_threshold_is_held_back(db: Database) -> None:
    tenant, _ = seed(db, days=30)
    with db.unit_of_work(hub=True) as uow:
        BillingConfigs(uow).put(tenant, {"readiness": {"max_estimated_pct": 10}})
        run = run_and_export(uow, tenant, "2024-06")
    assert (run.result.usage_points, run.result.ready) == (2, 1)
    assert run.result.held == {"UP2": "estimated 20.0% > 10.0%"}
    with db.unit_of_work(hub=True) as uow:
        rows = {r["mrid"]: r for r in determinants(uow, tenant, cycle="2024-06")}
    assert rows["UP1"]["data"]["kwh_import"] == 0.5 * 96 * 30
    assert rows["UP1"]["data"]["md_kw"] == {"value": 2.0, "ts": JUNE + 900}
    assert rows["UP2"]["ready"] is False


def test_determinants_go_to_a_billing_subscriber_exactly_once(db: Database) -> None:
    tenant, _ = seed(db, days=30)
    with db.unit_of_work(hub=True) as uow:
        SubscriptionRepository(uow).put(
            Subscription(
                "billing",
                "MeterReadings",
                ("created",),
                "http://billing.example",
                reading_types=(energy("kwh_import"),),
            )
        )
        SubscriptionRepository(uow).put(
            Subscription("analytics", "MeterReadings", ("created",), "http://other.example")
        )
    for _ in range(2):
        with db.unit_of_work(hub=True) as uow:
            run_and_export(uow, tenant, "2024-06")
    with db.engine.connect() as c:
        rows = c.execute(select(OutboxRow.address, OutboxRow.body)).all()
    assert [address for address, _ in rows] == ["billing"]  # UP2 is held back (default 10%)
    body = rows[0][1].decode()
    assert "<mRID>UP1</mRID>" in body and "UP2" not in body
    assert energy("kwh_import") in body and energy("kwh_export") not in body


def test_rest_consumption_summary_and_validated_data(db: Database) -> None:
    tenant, _ = seed(db, days=30)
    with (
        running_hub(Settings(database_url=db.url)) as (_, base),
        httpx.Client(base_url=f"{base}/api/v1/billing", timeout=10) as client,
    ):
        check_rest(db, client, tenant)


def check_rest(db: Database, client: httpx.Client, tenant: int) -> None:
    mtd = {"tenant": "t1", "cycle": "2024-06", "usage_point": "UP1"}
    running = client.get("/consumption-summary", params=mtd)
    assert running.json()["month_to_date"]["kwh_import"] == 1440.0
    with db.unit_of_work(hub=True) as uow:
        run_and_export(uow, tenant, "2024-06")
    params = {"tenant": "t1", "cycle": "2024-06"}
    summary = client.get("/consumption-summary", params=params).json()
    assert [(u["usage_point"], u["ready"]) for u in summary["usage_points"]] == [
        ("UP1", True),
        ("UP2", False),
    ]
    csv = client.get("/consumption-summary", params=params | {"format": "csv"})
    assert csv.text.splitlines()[1].startswith("UP1,UP1,2024-06,True,,1440.0,0.0,1440.0")
    window = {"tenant": "t1", "usage_point": "UP1", "start": JUNE, "end": JUNE + 3600}
    data = client.get("/validated-data", params=window).json()
    assert data["series"][0]["values"] == [0.5] * 4
    unknown = {"tenant": "t1", "usage_point": "X"}
    assert client.get("/validated-data", params=unknown).status_code == 404
