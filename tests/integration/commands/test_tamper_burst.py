"""The issue's done-when: with the HES simulator on the real Mosquitto, a tamper burst opens
exceptions and one service order, sent to the WFM and notified (both vendor profiles)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from cimhub.adapters.profile import load_profile
from cimhub.simulator.mqtt_head_end import MqttHes
from cimhub.store.subscriptions import Subscription
from cimhub.testing.commands import HEADERS, TENANT, seed_meters
from cimhub.testing.receiver import Receiver
from cimhub.testing.waiting import wait_until

MQTT_URL = "mqtt://127.0.0.1:1883"
T0 = 1_718_425_800  # 2024-06-15T04:30:00Z
MSR = "http://iec.ch/TC57/2011/MeterServiceRequests#"
EXPECTED = {
    "vendor-a": {"tamper.cover_open", "tamper.magnetic", "tamper.reverse_energy"},
    "vendor-b": {"tamper.cover_open", "tamper.ct_bypass", "tamper.neutral_disturbance"},
}


def _get(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base}/api/v1{path}", headers=HEADERS, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("vendor", ["vendor-a", "vendor-b"])
def test_a_tamper_burst_opens_exceptions_and_a_service_order(
    serve: Callable[..., Any], tmp_path: Path, vendor: str
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    notes = tmp_path / "notifications.jsonl"
    hub, base = serve(mqtt_url=MQTT_URL, mqtt_vendors=vendor, mqtt_topic_prefix=prefix,
                      default_tenant=TENANT, notify_url=f"file://{notes}")  # fmt: skip
    hub.start_commands()
    wait_until(lambda: hub.commands.mqtt.connected)
    seed_meters(hub, tmp_path, {"M-T": "HES-A"})
    with Receiver() as wfm:
        hub.bus.put_subscription(
            Subscription("wfm", "MeterServiceRequests", ("created",), wfm.url, tenant=TENANT)
        )
        sim = MqttHes(MQTT_URL, load_profile(vendor), prefix).start()
        try:
            sent = sim.tamper_burst("SN-M-T", T0)
            found = wait_until(
                lambda: (
                    len(items := _get(base, "/exceptions", kind="tamper")["items"]) >= 3 and items
                )
            )
        finally:
            sim.stop()
        hub.bus.relay.wake()
        [order_message] = wfm.wait_for(1)
    assert len(sent) >= 3
    assert {i["rule"] for i in found} == EXPECTED[vendor]
    assert {(i["meter"], i["status"]) for i in found} == {("M-T", "open")}
    [order] = _get(base, "/service-orders")["items"]
    assert {i["service_order_id"] for i in found} == {order["id"]}  # one field visit
    root = etree.fromstring(order_message)
    assert root.findtext(f".//{{{MSR}}}MeterServiceWork/{{{MSR}}}mRID") == order["mrid"]
    subjects = [json.loads(line)["subject"] for line in notes.read_text().splitlines()]
    assert len(subjects) == 3 and all("on meter M-T" in s for s in subjects)
