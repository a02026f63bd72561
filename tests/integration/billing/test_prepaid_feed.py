"""The daily prepaid feed (use case 1.4), hand-computed.

Monday 3 June 2024 (IST), Maharashtra ToD (normal 00–09, solar 09–17, peak 17–24).
UP1 (prepaid, meter M1): 0.25 kWh import every 15 minutes → 24 kWh = 9 + 8 + 7 per bucket;
0.1 kWh export 09:00–17:00 → 3.2 kWh. UP2 is postpaid, UP3 prepaid without data: neither
is sent. The feed goes once; a re-run (also the scheduled one) sends nothing; a VEE edit
of the 10:00–10:15 interval to 1.25 kWh makes the day 25 kWh (solar 9) and it is sent
again, as `changed`.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from sqlalchemy import select

from cimhub.app import Hub
from cimhub.billing.channel import Channel
from cimhub.billing.cycle import day_start
from cimhub.billing.reading_types import daily_energy, energy
from cimhub.cli import main
from cimhub.handlers.prepaid_feed import feed_day, feed_due
from cimhub.message import schema
from cimhub.settings import Settings
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.daily_aggregates import refresh
from cimhub.store.database import Database
from cimhub.store.outbox import OutboxRow
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.store.validated import Row, ValidatedRepository
from cimhub.testing.billing import (
    KWH_15,
    KWH_EXPORT_15,
    MONTH_CONFIG,
    Stay,
    add_usage_points,
    install,
    put_validated,
)
from cimhub.testing.bus import FAST
from cimhub.testing.receiver import Receiver
from cimhub.testing.replies import ParsedReply
from cimhub.testing.waiting import wait_until

IST = ZoneInfo("Asia/Kolkata")
DAY = date(2024, 6, 3)
START = day_start(DAY, IST)
IMPORT = daily_energy(Channel.KWH_IMPORT)
WANTED = (IMPORT, *(daily_energy(Channel.KWH_IMPORT, b) for b in (1, 2, 3)))
EXPORT = daily_energy(Channel.KWH_EXPORT)


def seed(
    db: Database,
    start: int = START,
    config: dict[str, object] = MONTH_CONFIG,
    address: str = "http://pp",
) -> tuple[int, int]:
    with db.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("t1")
        BillingConfigs(uow).put(tenant, config)
        add_usage_points(uow, tenant, ["UP1", "UP3"], payment_mode="prepaid")
        add_usage_points(uow, tenant, ["UP2"], payment_mode="postpaid")
        meters = install(uow, tenant, [Stay("UP1", "M1", 0), Stay("UP2", "M2", 0)])
        stamps = [start + 900 * (i + 1) for i in range(96 * 2)]  # 3 and 4 June
        for meter in meters.values():
            put_validated(uow, tenant, meter, KWH_15, stamps, [0.25] * len(stamps))
        solar = [ts for ts in stamps[:96] if start + 9 * 3600 < ts <= start + 17 * 3600]
        put_validated(uow, tenant, meters["M1"], KWH_EXPORT_15, solar, [0.1] * len(solar))
        refresh(uow, tenant, [(m, start, start + 2 * 86_400) for m in meters.values()])
        repo = SubscriptionRepository(uow)
        repo.put(Subscription("prepaid", "MeterReadings", ("created", "changed"), address,
                              reading_types=(*WANTED, EXPORT)))  # fmt: skip
        repo.put(Subscription("billing", "MeterReadings", ("created",), "http://billing",
                              reading_types=(energy("kwh_import"),)))  # fmt: skip
    return tenant, meters["M1"]


def sent(db: Database) -> list[tuple[str, str, dict[str, float], str]]:
    """(address, verb, ReadingType → value, usage point) of each outbox row, in order."""
    out = []
    with db.engine.connect() as c:
        o = OutboxRow
        rows = c.execute(select(o.address, o.verb, o.body, o.headers).order_by(o.id))
        for address, verb, body, headers in rows:
            root = etree.fromstring(body)
            schema.validate(root)  # a valid MeterReadings payload
            values = {
                r.find("{*}ReadingType").get("ref"): float(r.findtext("{*}value"))
                for r in root.iter("{*}Readings")
            }
            stamps = {r.findtext("{*}timeStamp") for r in root.iter("{*}Readings")}
            assert stamps == {"2024-06-03T18:30:00Z"}  # the day's end (midnight IST)
            ups = [u.findtext("{*}mRID") for u in root.iter("{*}UsagePoint")]
            assert ups == ["UP1"] and json.loads(headers)["prepaid_day"] == "2024-06-03"
            out.append((address, verb, values, ups[0]))
    return out


def test_the_prepaid_feed_goes_once_and_again_after_a_late_edit(db: Database) -> None:
    tenant, m1 = seed(db)
    with db.unit_of_work(hub=True) as uow:
        assert feed_day(uow, tenant, DAY).sent == {"prepaid": {"created": 1, "changed": 0}}
    first = {IMPORT: 24.0, WANTED[1]: 9.0, WANTED[2]: 8.0, WANTED[3]: 7.0, EXPORT: 3.2}
    assert sent(db) == [("prepaid", "created", first, "UP1")]
    after_midnight = datetime(2024, 6, 4, 0, 30, tzinfo=IST)  # before the feed hour (01:00)
    with db.unit_of_work(hub=True) as uow:
        assert feed_due(uow, after_midnight) == []
        results = feed_due(uow, after_midnight.replace(hour=2))
    assert [(r.day, r.sent) for r in results][-1] == (
        DAY,
        {"prepaid": {"created": 0, "changed": 0}},
    )
    assert len(sent(db)) == 1  # the re-run sent nothing
    with db.unit_of_work(hub=True) as uow:
        type_id = uow.reading_types.ids_for([KWH_15])[KWH_15]
        ts = START + 10 * 3600 + 900  # 10:00–10:15, solar
        edit = Row(m1, type_id, ts, "interval", 1.25, "3.7.0", "edited", "", "u", "fix", "")
        ValidatedRepository(uow).apply(tenant, [edit], now=1)
        refresh(uow, tenant, [(m1, ts - 1, ts)])
    with db.unit_of_work(hub=True) as uow:
        assert feed_day(uow, tenant, DAY).sent == {"prepaid": {"created": 0, "changed": 1}}
        assert feed_day(uow, tenant, DAY).sent == {"prepaid": {"created": 0, "changed": 0}}
    again = first | {IMPORT: 25.0, WANTED[2]: 9.0}
    assert sent(db)[1:] == [("prepaid", "changed", again, "UP1")]


def test_cimhub_billing_prepaid_feed_sends_a_day_once(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db)
    monkeypatch.setenv("CIMHUB_DATABASE_URL", db.url)
    for expected in ({"created": 1, "changed": 0}, {"created": 0, "changed": 0}):
        assert main(["billing", "prepaid-feed", "--tenant", "t1", "--day", "2024-06-03"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out == {"tenant": "t1", "day": "2024-06-03", "sent": {"prepaid": expected}}
    assert len(sent(db)) == 1


def test_the_hub_housekeeping_feeds_yesterday_once(db: Database) -> None:
    yesterday = datetime.now(IST).date() - timedelta(days=1)
    seed(
        db,
        day_start(yesterday, IST),
        MONTH_CONFIG | {"prepaid_feed": {"hour": 0, "lookback_days": 0}},
    )
    hub = Hub.build(Settings(database_url=db.url), serve=False)
    try:
        assert [hub.feed_prepaid(), hub.feed_prepaid()] == [1, 0]
    finally:
        hub.close()


def test_the_prepaid_feed_reaches_the_subscriber_once(db: Database) -> None:
    with Receiver() as receiver:
        seed(db, address=receiver.url)
        hub = Hub.build(Settings(database_url=db.url, **FAST))
        try:
            for _ in range(2):
                with hub.database.unit_of_work(hub=True) as uow:
                    feed_day(uow, uow.tenants.ensure("t1"), DAY)
            hub.bus.relay.wake()  # type: ignore[union-attr]
            [body] = receiver.wait_for(1)
            wait_until(lambda: not sent(db), timeout=10)  # the relay took it from the outbox
        finally:
            hub.close()
        assert len(receiver.bodies) == 1
    root = etree.fromstring(body)
    schema.validate(root)
    assert etree.QName(root).localname == "CreatedMeterReadings"
    readings = ParsedReply.of(body).readings()
    values = {code: value for (meter, code, _), value in readings.items() if meter == "M1"}
    assert values[IMPORT] == 24.0 and values[EXPORT] == 3.2
