"""DT-level outages: raised when 60 % of a DT's meters lose supply within five minutes,
restored when they come back, told to an OMS subscriber through the outbox."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from lxml import etree

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer, Inbound
from cimhub.domain.dt_outage import DtOutage
from cimhub.imports.csv_import import import_files
from cimhub.mappings.timestamp import to_epoch
from cimhub.message import schema
from cimhub.settings import Settings
from cimhub.store.dt_outages import DtOutageRepository
from cimhub.store.subscriptions import Subscription
from cimhub.testing.events import Ev, created_end_device_events
from cimhub.testing.masterdata import write_discom
from cimhub.testing.receiver import Receiver
from cimhub.testing.server import running_hub

Send = Callable[..., Answer]
TENANT = "t1"


OFF, ON = "3.26.0.85", "3.26.0.216"
EDE = "http://iec.ch/TC57/2011/EndDeviceEvents#"


def _t(clock: str) -> str:
    return f"2024-06-15T{clock}Z"


def _meter(i: int) -> str:
    return f"SM{i:07d}"


def _dt_outages(hub: Hub) -> list[DtOutage]:
    with hub.database.unit_of_work(hub=True) as uow:
        return DtOutageRepository(uow).outages(uow.tenants.ensure(TENANT), "DT0")


def _dt_events(bodies: list[bytes]) -> list[tuple[str, str, str]]:
    """(type, DT, meters.off) of every DT-level event the subscriber got."""
    found = []
    for body in bodies:
        root = etree.fromstring(body)
        schema.validate(root)
        for ev in root.iter(f"{{{EDE}}}EndDeviceEvent"):
            details = {
                d.findtext(f"{{{EDE}}}name"): d.findtext(f"{{{EDE}}}value")
                for d in ev.iter(f"{{{EDE}}}EndDeviceEventDetails")
            }
            if details.get("scope") == "DistributionTransformer":
                kind = ev.find(f"{{{EDE}}}EndDeviceEventType").get("ref")
                dt = ev.findtext(f"{{{EDE}}}Assets/{{{EDE}}}Names/{{{EDE}}}name")
                found.append((kind, dt, details["meters.off"]))
    return found


def test_five_of_ten_meters_off_is_no_dt_outage(discom: Hub, send: Send) -> None:
    send(created_end_device_events([Ev(_meter(i), _t("10:00:00"), OFF) for i in range(5)]))
    assert _dt_outages(discom) == []


def test_six_of_ten_within_the_window_raise_it_and_a_restore_below_the_share_ends_it(
    discom: Hub, send: Send, receiver: Receiver
) -> None:
    discom.bus.put_subscription(  # type: ignore[union-attr]
        Subscription("oms", "EndDeviceEvents", ("created",), receiver.url, event_types=(OFF, ON))
    )
    # 10:00:00, 10:01:00, … 10:05:00: the sixth power-off is 300 s after the first
    offs = [Ev(_meter(i), _t(f"10:0{i}:00"), OFF) for i in range(6)]
    send(created_end_device_events(offs[:3]))
    assert _dt_outages(discom) == []
    send(created_end_device_events(offs[3:]))
    start = to_epoch(_t("10:00:00"))
    assert _dt_outages(discom) == [DtOutage(start, None, 6, 10)]
    # one comes back: five off, below the share (6 of 10): restored then
    send(created_end_device_events([Ev(_meter(0), _t("11:00:00"), ON)]))
    restored = [DtOutage(start, to_epoch(_t("11:00:00")), 6, 10)]
    assert _dt_outages(discom) == restored
    send(created_end_device_events([Ev(_meter(1), _t("11:02:00"), ON)]))
    assert _dt_outages(discom) == restored  # nothing new to tell
    discom.bus.relay.wake()  # type: ignore[union-attr]
    # meter-level events reach the subscriber too: 4 messages of meter events, 2 DT ones
    bodies = receiver.wait_for(6)
    assert _dt_events(bodies) == [(OFF, "DT0", "6"), (ON, "DT0", "6")]


def test_power_offs_spread_wider_than_the_window_raise_nothing(discom: Hub, send: Send) -> None:
    offs = [Ev(_meter(i), _t(f"1{i}:00:00"), OFF) for i in range(7)]  # an hour apart
    send(created_end_device_events(offs))
    assert _dt_outages(discom) == []


def test_a_late_restore_arriving_first_settles_the_same(discom: Hub, send: Send) -> None:
    """Out of order: restores before the power-offs; the DT outage is closed at once."""
    ons = [Ev(_meter(i), _t("12:30:00"), ON) for i in range(6)]
    offs = [Ev(_meter(i), _t("12:00:00"), OFF) for i in range(6)]
    send(created_end_device_events(ons))
    send(created_end_device_events(offs))
    (outage,) = _dt_outages(discom)
    assert (outage.start, outage.end) == (to_epoch(_t("12:00:00")), to_epoch(_t("12:30:00")))


def test_dt_outages_over_rest(database_url: str, tmp_path: Path) -> None:
    with running_hub(Settings(database_url=database_url)) as (hub, base):
        assert all(
            r.applied for r in import_files(hub.database, TENANT, write_discom(tmp_path, 10))
        )
        offs = [Ev(_meter(i), _t("10:00:00"), OFF) for i in range(7)]
        hub.pipeline.process(Inbound(created_end_device_events(offs), TENANT, "test"))
        headers = {"X-Cimhub-Tenant": TENANT}
        found = httpx.get(f"{base}/api/v1/dt-outages", headers=headers, params={"open": "true"})
        other = httpx.get(f"{base}/api/v1/dt-outages", headers=headers, params={"dt": "DT9"})
    assert found.status_code == 200, found.text
    [item] = found.json()["items"]
    assert (item["dt"], item["end"], item["meters_off"], item["meters_total"]) == (
        "DT0",
        None,
        7,
        10,
    )
    assert other.json()["total"] == 0
