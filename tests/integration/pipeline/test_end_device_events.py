"""EndDeviceEvents through the pipeline on both backends: store, repeats, unmapped, get,
outages. Times are IST (+05:30); expectations worked out by hand in the comments."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer
from cimhub.domain.event import Event
from cimhub.domain.outage import Outage, OutageKind
from cimhub.domain.reading import MeterRef
from cimhub.mappings.timestamp import to_epoch
from cimhub.message import schema
from cimhub.store.events import EventRepository
from cimhub.testing.events import Ev, created_end_device_events, get_end_device_events
from cimhub.testing.replies import ParsedReply

Send = Callable[..., Answer]
OFF, ON = "3.26.0.85", "3.26.0.216"
COVER, MAGNET = "3.12.29.39", "3.12.66.257"
DAY = "2024-06-15T"


def _t(clock: str) -> str:
    return f"{DAY}{clock}+05:30"


def _events(hub: Hub, meter: str) -> list[Event]:
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("t1")
        (meter_id,) = uow.meters.find(tenant, [MeterRef(meter)])
        assert meter_id is not None
        return [e for _, e in EventRepository(uow).query(tenant, [meter_id])]


def _outages(hub: Hub, meter: str) -> list[Outage]:
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("t1")
        (meter_id,) = uow.meters.find(tenant, [MeterRef(meter)])
        assert meter_id is not None
        return EventRepository(uow).outages(tenant, meter_id)


def test_events_are_stored_with_code_vendor_id_severity_and_priority(hub: Hub, send: Send) -> None:
    answer = send(
        created_end_device_events(
            [
                Ev("M1", _t("01:52:33"), COVER, vendor="251", severity="critical"),
                Ev("M1", _t("02:00:00"), "3.36.114.24"),
            ]
        )
    )
    assert (answer.result.value, answer.code) == ("OK", "0.0")
    cover, clock = _events(hub, "M1")
    assert (cover.event_type, cover.vendor_code, cover.severity) == (COVER, "251", "critical")
    assert cover.created == to_epoch("2024-06-14T20:22:33Z")
    assert cover.priority.value == "high"  # domain 12, security
    assert (clock.severity, clock.priority.value) == ("informational", "low")  # domain 36


def test_a_repeated_event_is_dropped(hub: Hub, send: Send) -> None:
    magnet = Ev("M1", _t("03:00:00"), MAGNET)
    first = ParsedReply.of(send(created_end_device_events([magnet, magnet])).body)
    later = Ev("M1", _t("03:05:00"), MAGNET)  # a different message: the repeat is in the store
    again = ParsedReply.of(send(created_end_device_events([magnet, later])).body)
    assert "2 events: 1 new, 1 repeated" in first.reasons[0]  # the repeat inside the message
    assert "2 events: 1 new, 1 repeated" in again.reasons[0]
    assert len(_events(hub, "M1")) == 2


def test_an_unmapped_type_is_stored_and_reported(hub: Hub, send: Send) -> None:
    reply = ParsedReply.of(
        send(created_end_device_events([Ev("M1", _t("04:00:00"), "VND.887", vendor="887")])).body
    )
    assert (reply.result, reply.codes) == ("OK", ["0.0", "2.5"])
    (event,) = _events(hub, "M1")
    assert (event.event_type, event.vendor_code, event.mapped) == ("VND.887", "887", False)


def test_unknown_meters_are_refused_one_by_one_when_the_tenant_does_not_auto_register(
    make_hub: Callable[..., Hub],
) -> None:
    from cimhub.bus.pipeline import Inbound

    hub = make_hub(auto_register_meters=False)
    with hub.database.unit_of_work(hub=True) as uow:
        uow.meters.resolve(uow.tenants.ensure("t1"), [MeterRef("KNOWN")], auto_register=True)
    message = created_end_device_events(
        [Ev("KNOWN", _t("05:00:00"), OFF), Ev("STRANGER", _t("05:00:00"), OFF)]
    )
    reply = ParsedReply.of(hub.pipeline.process(Inbound(message, "t1", "test")).body)
    assert (reply.result, reply.codes) == ("PARTIAL", ["2.15"])
    assert reply.xpaths == ["/EndDeviceEvents/EndDeviceEvent[2]/Assets"]
    assert [e.event_type for e in _events(hub, "KNOWN")] == [OFF]


def test_get_by_meter_type_and_period_replies_valid_end_device_events(hub: Hub, send: Send) -> None:
    send(
        created_end_device_events(
            [
                Ev("M1", _t("00:21:09"), OFF, vendor="101"),
                Ev("M1", _t("00:28:40"), ON, vendor="102"),
                Ev("M1", _t("01:52:33"), COVER),
                Ev("M2", _t("00:30:00"), OFF),
                Ev("M1", "2024-06-16T00:10:00+05:30", OFF),  # next day: outside the period
            ]
        )
    )
    answer = send(
        get_end_device_events("M1", start=_t("00:00:00"), end="2024-06-16T00:00:00+05:30")
    )
    schema.validate(etree.fromstring(answer.body))
    reply = ParsedReply.of(answer.body)
    types = reply.root.xpath("//*[local-name()='EndDeviceEventType']/@ref")
    assert (reply.result, types) == ("OK", [OFF, ON, COVER])
    vendor = reply.root.xpath(
        "//*[local-name()='EndDeviceEventDetails'][*[local-name()='name']='IS15959.EventID']/*[local-name()='value']/text()"
    )
    assert vendor == ["101", "102"]
    only_power = ParsedReply.of(send(get_end_device_events("M1", types=[OFF])).body)
    assert only_power.root.xpath("//*[local-name()='createdDateTime']/text()") == [
        "2024-06-14T18:51:09Z",
        "2024-06-15T18:40:00Z",
    ]


def test_get_by_meter_name_and_unknown_meter(hub: Hub, send: Send) -> None:
    with hub.database.unit_of_work(hub=True) as uow:  # a meter known by mRID M9 and serial SER-9
        uow.meters.resolve(
            uow.tenants.ensure("t1"), [MeterRef("M9", ("SER-9",))], auto_register=True
        )
    send(created_end_device_events([Ev("M9", _t("06:00:00"), MAGNET)]))
    by_name = ParsedReply.of(send(get_end_device_events("SER-9", by_name=True)).body)
    assert by_name.result == "OK"
    assert by_name.root.xpath("//*[local-name()='Assets']/*[local-name()='mRID']/text()") == ["M9"]
    unknown = ParsedReply.of(send(get_end_device_events("NOPE", by_name=True)).body)
    assert (unknown.result, unknown.codes) == ("FAILED", ["2.15"])


def test_power_events_become_outages_even_out_of_order(hub: Hub, send: Send) -> None:
    # 10:00-10:03 is 180 s: momentary; the restore of the 11:00 outage arrives first.
    send(created_end_device_events([Ev("M1", _t("10:00:00"), OFF), Ev("M1", _t("10:03:00"), ON)]))
    send(created_end_device_events([Ev("M1", _t("11:30:00"), ON)]))
    assert [o.kind for o in _outages(hub, "M1")] == [OutageKind.MOMENTARY]
    send(created_end_device_events([Ev("M1", _t("11:00:00"), OFF), Ev("M1", _t("12:00:00"), OFF)]))
    start = to_epoch(_t("10:00:00"))
    assert _outages(hub, "M1") == [
        Outage(start, start + 180, OutageKind.MOMENTARY),
        Outage(start + 3600, start + 5400, OutageKind.SUSTAINED),  # 30 min
        Outage(start + 7200, None, OutageKind.OPEN),  # no restore yet
    ]


def test_the_momentary_threshold_is_the_tenants(hub: Hub, send: Send) -> None:
    with hub.database.unit_of_work(hub=True) as uow:
        EventRepository(uow).configure(uow.tenants.ensure("t1"), momentary_seconds=60)
    send(created_end_device_events([Ev("M1", _t("10:00:00"), OFF), Ev("M1", _t("10:03:00"), ON)]))
    assert [o.kind for o in _outages(hub, "M1")] == [OutageKind.SUSTAINED]  # 180 s ≥ 60 s
