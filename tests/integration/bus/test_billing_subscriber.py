"""Billing determinants reach a billing subscriber end to end (#7): `cimhub billing run`
writes them to the outbox, the hub's relay delivers them, once, however often it runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from cimhub.app import Hub
from cimhub.billing.cycle import day_start
from cimhub.billing.reading_types import energy
from cimhub.cli import main
from cimhub.message import schema
from cimhub.store.daily_aggregates import refresh
from cimhub.store.outbox import OutboxRepository
from cimhub.store.subscriptions import Subscription
from cimhub.testing.billing import KWH_15, Stay, add_usage_points, install, put_validated
from cimhub.testing.receiver import Receiver
from cimhub.testing.replies import ParsedReply
from cimhub.testing.waiting import wait_until

IST = ZoneInfo("Asia/Kolkata")
JUNE = day_start(date(2024, 6, 1), IST)
DAYS = 30
MR = "http://iec.ch/TC57/2011/MeterReadings#"


def seed(hub: Hub) -> None:
    """UP1 (meter M1): 0.5 kWh every 15 minutes of June."""
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("t1")
        add_usage_points(uow, tenant, ["UP1"])
        meters = install(uow, tenant, [Stay("UP1", "M1", JUNE - 86_400)])
        stamps = [JUNE + 900 * (i + 1) for i in range(96 * DAYS)]
        put_validated(uow, tenant, meters["M1"], KWH_15, stamps, [0.5] * len(stamps))
        refresh(uow, tenant, [(meters["M1"], JUNE, JUNE + DAYS * 86_400)])


def outbox_empty(hub: Hub) -> bool:
    with hub.database.unit_of_work(hub=True) as uow:
        return OutboxRepository(uow).count() == 0


def test_billing_run_delivers_determinants_to_the_subscriber_once(
    make_hub: Callable[..., Hub],
    receiver: Receiver,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = make_hub()
    wanted = (energy("kwh_import"), energy("kwh_export"))
    hub.bus.put_subscription(  # type: ignore[union-attr]
        Subscription("billing", "MeterReadings", ("created",), receiver.url, reading_types=wanted)
    )
    seed(hub)
    monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
    for _ in range(2):  # a second run finds everything exported already
        assert main(["billing", "run", "--tenant", "t1", "--cycle", "2024-06"]) == 0
    assert '"exported": {"billing": 1}' in capsys.readouterr().out
    hub.bus.relay.wake()  # type: ignore[union-attr]
    [body] = receiver.wait_for(1)
    wait_until(lambda: outbox_empty(hub), timeout=10)
    assert len(receiver.bodies) == 1
    root = etree.fromstring(body)
    schema.validate(root)  # a valid CreatedMeterReadings
    assert etree.QName(root).localname == "CreatedMeterReadings"
    assert root.findtext(f".//{{{MR}}}UsagePoint/{{{MR}}}mRID") == "UP1"
    readings = ParsedReply.of(body).readings()
    assert {code for _, code, _ in readings} == set(wanted)
    values = {code: value for (meter, code, _), value in readings.items() if meter == "M1"}
    assert values == {energy("kwh_import"): 0.5 * 96 * DAYS, energy("kwh_export"): 0.0}
