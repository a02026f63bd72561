"""EndDeviceEvents mapping: the golden message read, written back, read again unchanged."""

from __future__ import annotations

from importlib import resources

from lxml import etree

from cimhub.mappings.end_device_events import read_end_device_events, write_end_device_events
from cimhub.mappings.timestamp import to_epoch
from cimhub.message import schema

GOLDEN = resources.files("cimhub") / "cim" / "messages" / "EndDeviceEvents"
EDE = "{http://iec.ch/TC57/2011/EndDeviceEvents#}"


def _payload(name: str) -> etree._Element:
    root = etree.fromstring((GOLDEN / name).read_bytes())
    return root.find(f".//{EDE}EndDeviceEvents")


def test_golden_events_read() -> None:
    items, errors = read_end_device_events(_payload("created-outage-restore-tamper.xml"))
    assert errors == []
    off, on, cover = (i.event for i in items)
    assert (off.meter.mrid, off.event_type, off.vendor_code, off.vendor_group) == (
        "MH4528932",
        "3.26.0.85",
        "101",
        "2",
    )
    assert off.created == to_epoch("2024-06-14T18:51:09Z")
    assert (on.event_type, on.usage_point, on.severity) == (
        "3.26.0.216",
        "N3312045679",
        "informational",
    )
    assert (cover.reason, cover.details, cover.mrid) == (
        "cover open (non-rollover)",
        {"TamperCount": "1"},
        "HESA-EV-000918301",
    )


def test_round_trip_and_the_written_payload_validates() -> None:
    items, _ = read_end_device_events(_payload("created-outage-restore-tamper.xml"))
    written = write_end_device_events(i.event for i in items)
    message = etree.fromstring(
        b'<EndDeviceEventsResponseMessage xmlns="http://iec.ch/TC57/2011/EndDeviceEventsMessage">'
        b'<Header><Verb xmlns="http://iec.ch/TC57/2011/schema/message">reply</Verb>'
        b'<Noun xmlns="http://iec.ch/TC57/2011/schema/message">EndDeviceEvents</Noun></Header>'
        b'<Reply><Result xmlns="http://iec.ch/TC57/2011/schema/message">OK</Result></Reply>'
        b"<Payload/></EndDeviceEventsResponseMessage>"
    )
    message[-1].append(written)
    schema.validate(message)
    again, errors = read_end_device_events(written)
    assert errors == []
    assert [i.event for i in again] == [i.event for i in items]


def test_an_event_without_meter_or_time_is_an_item_error() -> None:
    payload = etree.fromstring(
        f'<EndDeviceEvents xmlns="{EDE[1:-1]}"><EndDeviceEvent>'
        f"<createdDateTime>2024-06-15T00:00:00+05:30</createdDateTime>"
        f'<EndDeviceEventType ref="3.26.0.85"/></EndDeviceEvent><EndDeviceEvent>'
        f"<Assets><mRID>M</mRID></Assets>"
        f'<EndDeviceEventType ref="3.26.0.85"/></EndDeviceEvent></EndDeviceEvents>'
    )
    items, errors = read_end_device_events(payload)
    assert items == []
    assert [(e.code, e.xpath) for e in errors] == [
        ("3.1", "/EndDeviceEvents/EndDeviceEvent[1]/Assets"),
        ("3.1", "/EndDeviceEvents/EndDeviceEvent[2]/createdDateTime"),
    ]
