"""Tamper and outage determinants fed from EndDeviceEvents (issue #7 item 2), hand-computed.

June 2024 (IST, cycle day 1). UP1 has meter M1 until 10 June 00:00, then M3.
Tamper events: M1 cover open on 3 June (counts); M1 magnetic on 13 June, after M1 left
(does not count); M3 generic tamper on 2 July (outside the period). A clock change on 5 June
is no tamper. A head-end's unmapped event with IS 15959 ID 201 (magnetic influence) on
20 June counts, its restoration (202) does not. → 2 tamper events.
Outages: M1 2 June 01:00–01:45 (45 min); M3 30 June 23:30 – 1 July 01:00 (30 min in June);
M1 16 June 10:00–10:10, after M1 left (not UP1's). → 2 outages, 75 minutes.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
from lxml import etree
from sqlalchemy import select

from cimhub.billing.cycle import day_start
from cimhub.billing.reading_types import OUTAGE_COUNT, OUTAGE_MINUTES, TAMPER_COUNT, energy
from cimhub.billing_commands import write_csv
from cimhub.bus.pipeline import Inbound
from cimhub.handlers.billing import run_and_export
from cimhub.message import schema
from cimhub.settings import Settings
from cimhub.store.billing import determinants
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.database import Database
from cimhub.store.outbox import OutboxRow
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.testing.billing import Stay, add_usage_points, install
from cimhub.testing.events import Ev, created_end_device_events
from cimhub.testing.server import running_hub

IST = ZoneInfo("Asia/Kolkata")
JUNE, JULY = day_start(date(2024, 6, 1), IST), day_start(date(2024, 7, 1), IST)
DAY, HOUR, MINUTE = 86_400, 3600, 60
SWAP = JUNE + 9 * DAY  # 10 June 00:00 IST
OFF, ON = "3.26.0.85", "3.26.0.216"
EVENTS: list[tuple[str, int, str] | tuple[str, int, str, str]] = [  # (meter, ts, type[, ID])
    ("M1", JUNE + 2 * DAY + 10 * HOUR, "3.12.29.39"),  # cover open: counts
    ("M1", JUNE + 12 * DAY, "3.12.66.257"),  # magnetic, M1 already removed
    ("M3", JULY + DAY, "3.12.0.257"),  # next period
    ("M3", JUNE + 4 * DAY, "3.36.114.24"),  # clock changed: no tamper
    ("M3", JUNE + 19 * DAY, "VENDOR-MAGNET", "201"),  # unmapped, IS 15959 tamper: counts
    ("M3", JUNE + 19 * DAY + HOUR, "VENDOR-MAGNET-END", "202"),  # its restoration
    ("M1", JUNE + DAY + HOUR, OFF),
    ("M1", JUNE + DAY + HOUR + 45 * MINUTE, ON),
    ("M3", JULY - 30 * MINUTE, OFF),
    ("M3", JULY + HOUR, ON),
    ("M1", JUNE + 15 * DAY + 10 * HOUR, OFF),
    ("M1", JUNE + 15 * DAY + 10 * HOUR + 10 * MINUTE, ON),
]
EXPECTED = {"tamper_events": 2, "outages": 2, "outage_minutes": 75}


def _at(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_tamper_and_outage_determinants_come_from_events(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    with (
        running_hub(settings) as (hub, base),
        httpx.Client(base_url=f"{base}/api/v1/billing", timeout=10) as client,
    ):
        tenant = seed(hub.database)
        events = [Ev(e[0], _at(e[1]), e[2], *e[3:]) for e in EVENTS]
        answer = hub.pipeline.process(Inbound(created_end_device_events(events), "t1", "test"))
        assert b"<Result>OK</Result>" in answer.body.replace(b"msg:", b"")
        params = {"tenant": "t1", "cycle": "2024-06", "usage_point": "UP1"}
        running = client.get("/consumption-summary", params=params).json()["month_to_date"]
        assert {k: running[k] for k in EXPECTED} == EXPECTED
        with hub.database.unit_of_work(hub=True) as uow:
            run = run_and_export(uow, tenant, "2024-06")
        assert run.exported == {"billing": 1}
        summary = client.get("/consumption-summary", params=params).json()["usage_points"][0]
        assert {k: summary[k] for k in EXPECTED} == EXPECTED
        check_csv_and_export(hub.database, tenant)


def seed(db: Database) -> int:
    with db.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("t1")
        add_usage_points(uow, tenant, ["UP1"])
        install(uow, tenant, [Stay("UP1", "M1", JUNE - DAY, SWAP), Stay("UP1", "M3", SWAP)])
        BillingConfigs(uow).put(
            tenant, {"readiness": {"max_missing_pct": 100, "max_estimated_pct": 100}}
        )
        SubscriptionRepository(uow).put(
            Subscription(
                "billing",
                "MeterReadings",
                ("created",),
                "http://billing.example",
                reading_types=(energy("kwh_import"), TAMPER_COUNT, OUTAGE_COUNT, OUTAGE_MINUTES),
            )
        )
    return tenant


def check_csv_and_export(db: Database, tenant: int) -> None:
    with db.unit_of_work(hub=True) as uow:
        rows = determinants(uow, tenant, cycle="2024-06")
    out = io.StringIO()
    write_csv(out, rows)
    line = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert {k: int(line[k]) for k in EXPECTED} == EXPECTED
    with db.engine.connect() as c:
        body = etree.fromstring(c.execute(select(OutboxRow.body)).scalar_one())
    schema.validate(body)  # a valid MeterReadings payload
    values = {
        r.find("{*}ReadingType").get("ref"): float(r.findtext("{*}value"))
        for r in body.iter("{*}Readings")
    }
    assert {k: values.get(k) for k in (TAMPER_COUNT, OUTAGE_COUNT, OUTAGE_MINUTES)} == {
        TAMPER_COUNT: 2,
        OUTAGE_COUNT: 2,
        OUTAGE_MINUTES: 75,
    }
