"""Exceptions and service orders on both backends: a tamper burst, suppression during field
work, WFM feedback to closure, people's moves over REST, the communication sweep, VEE
findings, notifications to a file and over SMTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.handlers.exceptions import Exceptions
from cimhub.handlers.notification import Notification, deliver, sender_for
from cimhub.imports.csv_import import import_files
from cimhub.message import schema
from cimhub.settings import Settings
from cimhub.store.exceptions import ExceptionRepository, ExceptionRow
from cimhub.store.subscriptions import Subscription
from cimhub.testing.events import Ev, created_end_device_events
from cimhub.testing.masterdata import write_discom
from cimhub.testing.receiver import Receiver
from cimhub.testing.server import running_hub
from cimhub.testing.smtp import SmtpServer

TENANT = "t1"
H = {"X-Cimhub-Tenant": TENANT}
COVER, MAGNET, REVERSE, GENERIC = "3.12.29.39", "3.12.66.257", "3.12.93.219", "3.12.0.257"
MSR = "http://iec.ch/TC57/2011/MeterServiceRequests#"
Served = tuple[Hub, str, Path]


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    """A served hub with DT0's ten consumers; notifications to a JSON-lines file."""
    notes = tmp_path / "notifications.jsonl"
    settings = Settings(database_url=database_url, notify_url=f"file://{notes}",
                        notify_to="rp@discom.test")  # fmt: skip
    with running_hub(settings) as (hub, base):
        assert all(
            r.applied for r in import_files(hub.database, TENANT, write_discom(tmp_path, 10))
        )
        yield hub, base, notes


def _send(hub: Hub, events: list[Ev]) -> None:
    answer = hub.pipeline.process(Inbound(created_end_device_events(events), TENANT, "test"))
    assert answer.result.value == "OK"


def _get(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base}/api/v1{path}", headers=H, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _post(base: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base}/api/v1{path}", headers=H, json=body)


def _notes(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _burst(hub: Hub) -> None:
    _send(hub, [Ev("SM0000001", "2024-06-15T10:00:00Z", COVER, vendor="251"),
                Ev("SM0000001", "2024-06-15T10:00:05Z", MAGNET, vendor="201"),
                Ev("SM0000001", "2024-06-15T10:00:09Z", REVERSE, vendor="51"),
                Ev("SM0000001", "2024-06-15T10:01:00Z", COVER, vendor="251")])  # fmt: skip


def test_a_tamper_burst_opens_exceptions_and_one_service_order_sent_to_the_wfm(
    served: Served,
) -> None:
    hub, base, notes = served
    with Receiver() as wfm:
        hub.bus.put_subscription(  # type: ignore[union-attr]
            Subscription("wfm", "MeterServiceRequests", ("created",), wfm.url)
        )
        _burst(hub)
        hub.bus.relay.wake()  # type: ignore[union-attr]
        [body] = wfm.wait_for(1)
    found = _get(base, "/exceptions", kind="tamper")
    rules = {i["rule"]: i for i in found["items"]}
    assert set(rules) == {"tamper.cover_open", "tamper.magnetic", "tamper.reverse_energy"}
    assert rules["tamper.cover_open"]["occurrences"] == 2  # the repeat adds, opens nothing
    assert {i["status"] for i in found["items"]} == {"open"}
    assert {i["meter"] for i in found["items"]} == {"SM0000001"}
    [order] = _get(base, "/service-orders")["items"]
    assert {i["service_order_id"] for i in found["items"]} == {order["id"]}
    root = etree.fromstring(body)
    assert schema.compiled_schema().validate(root), schema.compiled_schema().error_log
    assert etree.QName(root).localname == "CreatedMeterServiceRequests"
    assert root.findtext(f".//{{{MSR}}}MeterServiceWork/{{{MSR}}}mRID") == order["mrid"]
    assert root.findtext(f".//{{{MSR}}}Meter/{{{MSR}}}mRID") == "SM0000001"
    sent = _notes(notes)
    assert len(sent) == 3 and all(n["to"] == ["rp@discom.test"] for n in sent)
    assert any("tamper.magnetic on meter SM0000001" in n["subject"] for n in sent)


def test_revenue_protection_alerts_during_field_work_are_suppressed(served: Served) -> None:
    hub, base, notes = served
    _burst(hub)
    before = len(_notes(notes))
    # neutral disturbance (IS 15959 203) mapped to the generic tamper code, a later message
    _send(hub, [Ev("SM0000001", "2024-06-15T11:00:00Z", GENERIC, vendor="203"),
                Ev("SM0000002", "2024-06-15T11:00:00Z", GENERIC, vendor="65")])  # fmt: skip
    by_meter = {i["meter"]: i for i in _get(base, "/exceptions", kind="tamper")["items"]
                if i["rule"] in ("tamper.neutral_disturbance", "tamper.ct_bypass")}  # fmt: skip
    assert by_meter["SM0000001"]["status"] == "suppressed"  # its service order is open
    assert by_meter["SM0000002"]["status"] == "open"  # no field work there: a new order
    assert len(_get(base, "/service-orders")["items"]) == 2
    assert len(_notes(notes)) == before + 1  # only SM0000002's


def test_wfm_feedback_tracks_the_order_to_closure(served: Served) -> None:
    hub, base, _ = served
    _burst(hub)
    [order] = _get(base, "/service-orders")["items"]
    path = f"/service-orders/{order['mrid']}/feedback"
    for status in ("accepted", "in_progress", "completed"):
        assert _post(base, path, {"status": status, "note": status}).status_code == 200
    first = _get(base, f"/exceptions/{order['exception_id']}")
    assert first["status"] == "resolved"
    assert _post(base, path, {"status": "closed"}).json()["closed_at"] is not None
    assert _get(base, f"/exceptions/{order['exception_id']}")["status"] == "closed"
    refused = _post(base, path, {"status": "in_progress"})
    assert (refused.status_code, refused.json()["code"]) == (409, "3.4")
    history = [h["status"] for h in _get(base, f"/service-orders/{order['mrid']}")["history"]]
    assert history == ["open", "accepted", "in_progress", "completed", "closed"]
    assert _post(base, "/service-orders/nope/feedback", {"status": "closed"}).status_code == 404
    assert _post(base, path, {"status": "done"}).status_code == 422


def test_people_assign_resolve_and_close_an_outage_exception(served: Served) -> None:
    hub, base, _ = served
    _send(hub, [Ev("SM0000003", "2024-06-15T09:00:00Z", "3.26.0.85")])
    [outage] = _get(base, "/exceptions", kind="outage")["items"]
    assert outage["service_order_id"] is None  # the outage rule opens no order
    url = f"/exceptions/{outage['id']}/moves"
    assigned = _post(base, url, {"status": "assigned", "assignee": "lineman-7"}).json()
    assert (assigned["status"], assigned["assignee"]) == ("assigned", "lineman-7")
    assert _post(base, url, {"status": "resolved", "note": "fuse replaced"}).status_code == 200
    assert _post(base, url, {"status": "closed"}).status_code == 200
    assert _post(base, url, {"status": "open"}).status_code == 409
    moves = [
        (h["status"], h["actor"]) for h in _get(base, f"/exceptions/{outage['id']}")["history"]
    ]
    assert moves == [("open", "cimhub"), ("assigned", "anonymous"), ("resolved", "anonymous"),
                     ("closed", "anonymous")]  # fmt: skip
    assert _get(base, "/exceptions", status="closed")["total"] == 1


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    # sweeps by hand, no relay: nothing takes a VEE finding before the test's sweep does
    # (the prompt path, VeeFindings to the hub's exception rules: tests/integration/vee)
    settings = Settings(database_url=database_url, communication_silence_hours=48)
    hub = Hub.build(settings, serve=False)
    assert all(r.applied for r in import_files(hub.database, TENANT, write_discom(tmp_path, 10)))
    yield hub
    hub.close()


def test_the_communication_sweep_opens_one_exception_per_silent_meter(hub: Hub) -> None:
    at = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure(TENANT)
        opened = Exceptions(uow, hub.settings).sweep_communication(tenant, at)
    assert len(opened) == 12  # ten consumers, the DT's and the feeder's meter: never sent data
    with hub.database.unit_of_work(hub=True) as uow:
        again = Exceptions(uow, hub.settings).sweep_communication(tenant, at + 3600)
    assert sorted(again) == sorted(opened)  # still silent: occurrences, not new exceptions


def test_a_negative_consumption_finding_opens_an_exception(hub: Hub) -> None:
    from cimhub.testing.messages import created_meter_readings

    raw = created_meter_readings([1], datetime(2024, 6, 15, tzinfo=UTC), 4)
    raw = raw.replace(b"<value>", b"<value>-", 1).replace(b"<mr:value>", b"<mr:value>-", 1)
    assert hub.pipeline.process(Inbound(raw, TENANT, "test")).result.value in ("OK", "PARTIAL")
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure(TENANT)
        opened = Exceptions(uow, hub.settings).on_findings(tenant)
        again = Exceptions(uow, hub.settings).on_findings(tenant)  # each is taken once
        kinds = [Exceptions(uow, hub.settings).repo.page(ExceptionRow, tenant, {}, 10, 0)]
    assert len(opened) == 1 and again == []
    assert [(r.kind, r.source) for r in kinds[0][0]] == [("negative_consumption", "usage.negative")]


def test_the_smtp_sender_mails_each_notification() -> None:
    with SmtpServer() as server:
        sender = sender_for(f"smtp://127.0.0.1:{server.port}", "mdm@discom.test")
        deliver(sender, [Notification(("rp@discom.test", "aee@discom.test"), "tamper", "body")])
        [mail] = server.wait_for(1)
    assert (mail["Subject"], mail["From"]) == ("tamper", "mdm@discom.test")
    assert mail["To"] == "rp@discom.test, aee@discom.test"
    assert server.messages[0][1] == ["<rp@discom.test>", "<aee@discom.test>"]


def test_a_sender_that_fails_is_logged_and_the_rest_still_go(tmp_path: Path) -> None:
    sender = sender_for("smtp://127.0.0.1:1")  # nothing listens there
    deliver(sender, [Notification(("x@y",), "lost", "")])  # logged, no exception
    file_sender = sender_for(f"file://{tmp_path}/n.jsonl")
    deliver(file_sender, [Notification(("x@y",), "kept", "")])
    assert "kept" in (tmp_path / "n.jsonl").read_text()


def test_the_periodic_sweep_covers_every_tenant(hub: Hub) -> None:
    assert hub.sweep_exceptions() == {TENANT: 12}  # silent since installation in 2024
    assert hub.sweep_exceptions() == {TENANT: 12}  # the same exceptions, one more occurrence
    with hub.database.unit_of_work(hub=True) as uow:
        rows, total = Exceptions(uow, hub.settings).repo.page(
            ExceptionRow, uow.tenants.ensure(TENANT), {"kind": "communication_failure"}, 20, 0
        )
    assert total == 12 and {r.occurrences for r in rows} == {2}


def test_a_restore_resolves_the_outage_and_a_resent_event_counts_once(served: Served) -> None:
    hub, base, _ = served
    _burst(hub)
    _burst(hub)  # the head-end sends the same events again: nothing new happened
    cover = _get(base, "/exceptions", rule="tamper.cover_open")["items"][0]
    assert cover["occurrences"] == 2
    _send(hub, [Ev("SM0000004", "2024-06-15T09:00:00Z", "3.26.0.85")])
    _send(hub, [Ev("SM0000004", "2024-06-15T09:40:00Z", "3.26.0.216")])
    [outage] = _get(base, "/exceptions", kind="outage")["items"]
    assert (outage["status"], outage["meter"]) == ("resolved", "SM0000004")
    history = _get(base, f"/exceptions/{outage['id']}")["history"]
    assert [(h["status"], h["actor"]) for h in history] == [
        ("open", "cimhub"),
        ("resolved", "cimhub"),
    ]


def test_data_received_again_resolves_a_communication_failure(hub: Hub) -> None:
    from cimhub.testing.messages import created_meter_readings, meter_mrid

    at = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure(TENANT)
        Exceptions(uow, hub.settings).sweep_communication(tenant, at)
    raw = created_meter_readings([1], datetime(2024, 5, 31, 12, tzinfo=UTC), 4)
    raw = raw.replace(meter_mrid(1).encode(), b"SM0000000")
    assert hub.pipeline.process(Inbound(raw, TENANT, "test")).result.value == "OK"
    with hub.database.unit_of_work(hub=True) as uow:
        service = Exceptions(uow, hub.settings)
        service.sweep_communication(tenant, at + 3600)
        rows, _ = service.repo.page(ExceptionRow, tenant, {"status": "resolved"}, 20, 0)
    assert [service_meter(hub, r.meter_id) for r in rows] == ["SM0000000"]


def service_meter(hub: Hub, meter_id: int) -> str:
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure(TENANT)
        return uow.meters.describe(tenant, {meter_id})[meter_id].key


RULES_TOML = """
[[rule]]
name = "clock.tampered"
kind = "tamper"
severity = "critical"
events = ["3.36.114.24"]
service_order = true
notify = ["aee@discom.test"]
description = "The meter's clock was changed: inspect the site."
"""


def test_rules_from_a_toml_file_replace_the_built_in_ones(
    database_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES_TOML)
    with SmtpServer() as smtp:
        settings = Settings(database_url=database_url, exception_rules=str(rules),
                            notify_url=f"smtp://127.0.0.1:{smtp.port}")  # fmt: skip
        hub = Hub.build(settings)
        try:
            raw = created_end_device_events([Ev("M9", "2024-06-15T10:00:00Z", "3.36.114.24"),
                                             Ev("M9", "2024-06-15T10:05:00Z", COVER)])  # fmt: skip
            assert hub.pipeline.process(Inbound(raw, TENANT, "test")).result.value == "OK"
            [mail] = smtp.wait_for(1)
            with hub.database.unit_of_work(hub=True) as uow:
                service = Exceptions(uow, hub.settings)
                rows, _total = service.repo.page(ExceptionRow, uow.tenants.ensure(TENANT), {}, 9, 0)
                found = [(r.rule, r.severity, r.service_order_id is not None) for r in rows]
        finally:
            hub.close()
    assert found == [("clock.tampered", "critical", True)]  # the cover event: no rule now
    assert mail["To"] == "aee@discom.test" and "clock.tampered on meter M9" in mail["Subject"]
    assert "inspect the site" in str(mail.get_payload(decode=True), "utf-8")


def test_the_webhook_sender_posts_json_to_an_sms_gateway() -> None:
    with Receiver() as gateway:
        deliver(sender_for(gateway.url), [Notification(("+919800000001",), "tamper", "M1")])
        [body] = gateway.wait_for(1)
    assert json.loads(body) == {"to": ["+919800000001"], "subject": "tamper", "body": "M1"}


def test_a_sender_url_naming_no_sender_loses_no_event(database_url: str) -> None:
    hub = Hub.build(Settings(database_url=database_url, notify_url="pigeon://loft"))
    try:
        raw = created_end_device_events([Ev("M5", "2024-06-15T10:00:00Z", COVER)])
        assert hub.pipeline.process(Inbound(raw, TENANT, "test")).result.value == "OK"
        with hub.database.unit_of_work(hub=True) as uow:
            _, total = ExceptionRepository(uow).page(ExceptionRow, uow.tenants.ensure(TENANT),
                                                     {}, 5, 0)  # fmt: skip
    finally:
        hub.close()
    assert total == 1  # stored, the exception opened; the notification only logged


def test_another_tenants_exceptions_and_orders_stay_hidden(served: Served) -> None:
    hub, base, _ = served
    raw = created_end_device_events([Ev("B-M1", "2024-06-15T10:00:00Z", COVER)])
    assert hub.pipeline.process(Inbound(raw, "t2", "test")).result.value == "OK"
    theirs = httpx.get(f"{base}/api/v1/service-orders", headers={"X-Cimhub-Tenant": "t2"})
    [order] = theirs.json()["items"]
    assert _get(base, "/exceptions")["total"] == 0  # t1 sees none of t2's
    assert (
        httpx.get(f"{base}/api/v1/exceptions/{order['exception_id']}", headers=H).status_code == 404
    )
    refused = _post(base, f"/service-orders/{order['mrid']}/feedback", {"status": "closed"})
    assert refused.status_code == 404
