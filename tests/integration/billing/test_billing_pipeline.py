"""The ingest hook: MeterReadings `created` through the pipeline updates the daily
aggregates of installed meters; a GetMeterReadings for determinants is answered. What
ingest keeps (the series VEE just stored taken from memory, the rest of their days read
back) is what aggregating the stored layer again gives."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from cimhub.app import Hub
from cimhub.billing.cycle import EPOCH, day_start
from cimhub.bus.pipeline import Inbound
from cimhub.handlers.billing import run_and_export
from cimhub.settings import Settings
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.billing_models import BillingDaily
from cimhub.store.daily_aggregates import refresh
from cimhub.testing.billing import KVAH_15, KWH_15, Stay, add_usage_points, install
from cimhub.testing.messages import created_meter_readings, meter_mrid, readings_message
from cimhub.testing.replies import ParsedReply

START = datetime(2024, 6, 2, 18, 30, tzinfo=UTC)  # 2024-06-03 00:00 IST
VOLTS_15 = "0.0.2.6.0.1.54.0.0.0.0.0.0.0.0.0.29.0"  # an interval series no determinant reads
D = BillingDaily


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


def _installed_hub(database_url: str, meters: int) -> tuple[Hub, int]:
    hub = Hub.build(Settings(database_url=database_url))
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("t1")
        points = [f"UP{n}" for n in range(1, meters + 1)]
        add_usage_points(uow, tenant, points)
        install(uow, tenant, [Stay(p, meter_mrid(n), 0) for n, p in enumerate(points, 1)])
    return hub, tenant


def _send(hub: Hub, raw: bytes) -> None:
    reply = ParsedReply.of(hub.pipeline.process(Inbound(raw, "t1", "test")).body)
    assert reply.result == "OK", reply.reasons


def _daily(hub: Hub) -> dict[tuple[int, int], dict[str, object]]:
    """(meter, day) → the stored aggregate."""
    with hub.database.engine.connect() as c:
        rows = c.execute(select(D.meter_id, D.day, D.role, D.calendar, D.data)).all()
    return {
        (r.meter_id, r.day): {"role": r.role, "calendar": r.calendar, **json.loads(r.data)}
        for r in rows
    }


def _aggregated_again(hub: Hub, tenant: int) -> dict[tuple[int, int], dict[str, object]]:
    """The same days aggregated again from the stored validated layer alone."""
    kept = _daily(hub)
    with hub.database.unit_of_work(hub=True) as uow:
        zone = BillingConfigs(uow).current(tenant).zone
        spans = []
        for meter, number in kept:
            start = day_start(EPOCH + timedelta(days=number), zone)
            spans.append((meter, start, start + 86_400))
        refresh(uow, tenant, spans)
    return _daily(hub)


def test_a_gap_vee_fills_before_a_message_is_counted_in_the_day_it_lies_in(
    database_url: str,
) -> None:
    """A local day pushed without its last two intervals, then the next day: VEE fills the
    gap (estimates of missing data) in the first day, whose aggregate then counts them."""
    hub, _ = _installed_hub(database_url, 1)
    try:
        _send(hub, created_meter_readings([1], START, 94, message_id="d0"))
        _send(hub, created_meter_readings([1], START + timedelta(days=1), message_id="d1"))
        first = (date(2024, 6, 3) - EPOCH).days
        days = _daily(hub)
        assert sorted(days) == [(1, first), (1, first + 1)]
        assert (days[(1, first)]["present"], days[(1, first)]["missing"]) == (94, 2)
        assert (days[(1, first + 1)]["present"], days[(1, first + 1)]["missing"]) == (96, 0)
    finally:
        hub.close()


def test_what_ingest_aggregates_is_what_the_stored_layer_aggregates_to(
    database_url: str,
) -> None:
    """UTC days (each touching two local days) of kWh, kVAh and voltage; an operator's
    edit the next push does not replace; a gap, then the late day: after every message
    the aggregates ingest stored equal those aggregated again from the store."""
    hub, tenant = _installed_hub(database_url, 2)
    utc = datetime(2024, 6, 3, tzinfo=UTC)
    step = 900

    def day(n: int, meter: int, scale: float = 1.0) -> dict[str, dict[int, float]]:
        first = int((utc + timedelta(days=n)).timestamp())
        stamps = range(first + step, first + 86_400 + step, step)
        return {
            KWH_15: {ts: round(scale * (0.1 + meter * 0.01 + ts % 7 * 0.02), 3) for ts in stamps},
            KVAH_15: {ts: round(scale * (0.12 + ts % 5 * 0.02), 3) for ts in stamps},
            VOLTS_15: {ts: 230.0 + ts % 3 for ts in stamps},
        }

    edited = int((utc + timedelta(days=1, hours=10)).timestamp())
    steps = [
        readings_message(meter_mrid(1), day(0, 1)),
        readings_message(meter_mrid(2), day(0, 2)),
        readings_message(meter_mrid(1), day(1, 1)),
        readings_message(
            meter_mrid(1), {KWH_15: {edited: 9.5}}, verb="change", user="op-1", comment="on site"
        ),
        readings_message(meter_mrid(1), day(1, 1, scale=1.5)),  # a correction: the edit stays
        readings_message(meter_mrid(2), day(3, 2)),  # day 2 missing: VEE estimates it
        readings_message(meter_mrid(2), day(2, 2)),  # late: replaces the estimates
    ]
    try:
        for raw in steps:
            _send(hub, raw)
            kept = _daily(hub)
            assert kept == _aggregated_again(hub, tenant)
        energy = {key: row["energy"] for key, row in kept.items()}  # type: ignore[index]
        assert len(kept) == 3 + 5  # local days: meter 1 three, meter 2 five (day 1 a gap)
        edited_day = (date(2024, 6, 4) - EPOCH).days
        assert energy[(1, edited_day)]["kwh_import"] > 9_500_000  # the edit's 9.5 kWh in mWh
        late_day = (date(2024, 6, 6) - EPOCH).days  # its first 22 intervals came late
        assert kept[(2, late_day)]["present"] == 96 and kept[(2, late_day)]["missing"] == 0
    finally:
        hub.close()
