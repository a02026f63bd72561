"""The ingest hook: MeterReadings `created` through the pipeline updates the daily
aggregates of installed meters; a GetMeterReadings for determinants is answered."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.handlers.billing import run_and_export
from cimhub.settings import Settings
from cimhub.store.billing_models import BillingDaily
from cimhub.testing.billing import Stay, add_usage_points, install
from cimhub.testing.messages import created_meter_readings, meter_mrid

START = datetime(2024, 6, 2, 18, 30, tzinfo=UTC)  # 2024-06-03 00:00 IST


def test_ingest_updates_the_daily_aggregates_and_get_answers_determinants(
    database_url: str,
) -> None:
    hub = Hub.build(Settings(database_url=database_url))
    try:
        with hub.database.unit_of_work(hub=True) as uow:
            tenant = uow.tenants.ensure("t1")
            add_usage_points(uow, tenant, ["UP1"])
            install(uow, tenant, [Stay("UP1", meter_mrid(1), 0)])
        answer = hub.pipeline.process(Inbound(created_meter_readings([1], START), "t1", "test"))
        assert b"OK" in answer.body
        with hub.database.engine.connect() as c:
            rows = c.execute(select(BillingDaily.data)).scalars().all()
        assert len(rows) == 1  # one local day, one meter
        assert json.loads(rows[0])["present"] == 96
        with hub.database.unit_of_work(hub=True) as uow:
            run_and_export(uow, tenant, "2024-06")
        get = GET.format(rt="8.0.0.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0").encode()
        reply = hub.pipeline.process(Inbound(get, "t1", "test")).body.decode()
        assert "<mRID>UP1</mRID>" in reply and "8.0.0.4.1.1.12" in reply
    finally:
        hub.close()


GET = """<?xml version="1.0" encoding="UTF-8"?>
<RequestMessage xmlns="http://iec.ch/TC57/2011/schema/message">
  <Header><Verb>get</Verb><Noun>MeterReadings</Noun><MessageID>b-1</MessageID></Header>
  <Request><GetMeterReadings xmlns="http://iec.ch/TC57/2011/GetMeterReadings#">
    <ReadingType><mRID>{rt}</mRID></ReadingType>
    <UsagePoint><mRID>UP1</mRID></UsagePoint>
  </GetMeterReadings></Request>
</RequestMessage>"""
