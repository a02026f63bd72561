"""Vendor JSON → CIM by the shipped profiles: scalers, OBIS → ReadingType, event IDs."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from cimhub.adapters.profile import load_profile
from cimhub.adapters.vendor_json import (
    command_json,
    events,
    events_message,
    readings,
    readings_message,
    status_message,
)
from cimhub.domain.command import CONTROL_CODES, Command, CommandKind
from cimhub.domain.event import Event
from cimhub.domain.meter_read import Period
from cimhub.domain.reading import MeterRef
from cimhub.errors import InvalidValueError
from cimhub.message import schema


def parse(raw: bytes) -> etree._Element:
    root = etree.fromstring(raw)
    assert schema.compiled_schema().validate(root), schema.compiled_schema().error_log
    return root


def test_vendor_a_columns_are_scaled_and_unmapped_columns_ignored() -> None:
    profile = load_profile("vendor-a")
    raw = json.dumps(
        {
            "meterSerial": "SN-1",
            "blocks": [
                {
                    "ts": "2024-06-15T10:15:00+05:30",
                    "1.0.1.29.0.255": 125,
                    "1.0.12.27.0.255": 23012,
                    "rssi": -70,
                },
            ],
        }
    ).encode()
    root = parse(readings_message(profile, raw))
    got = {
        b.find("{*}ReadingType").get("ref"): b.findtext("{*}IntervalReadings/{*}value")
        for b in root.iterfind(".//{*}IntervalBlocks")
    }
    assert {k: float(v) for k, v in got.items()} == {
        "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0": 0.125,
        "0.2.2.6.0.1.54.0.0.0.0.0.0.0.128.0.29.0": 230.12,
    }
    assert root.findtext(".//{*}Meter/{*}Names/{*}name") == "SN-1"


def test_vendor_b_rows_and_a_time_without_zone_is_refused() -> None:
    profile = load_profile("vendor-b")
    raw = json.dumps(
        {"devId": "SN-2", "data": [{"t": 1718425800, "obis": "1.0.1.29.0.255", "v": 0.5}]}
    ).encode()
    assert b"0.0.5.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0" in readings_message(profile, raw)
    vendor_a = load_profile("vendor-a")
    bad = json.dumps(
        {"meterSerial": "SN-1", "blocks": [{"ts": "2024-06-15T10:15:00", "1.0.1.29.0.255": 1}]}
    ).encode()
    with pytest.raises(InvalidValueError, match="no zone"):
        readings_message(vendor_a, bad)


def test_events_map_is_15959_ids_and_keep_unknown_ones() -> None:
    profile = load_profile("vendor-b")
    raw = json.dumps(
        {
            "alarms": [
                {"devId": "SN-2", "code": 65, "t": 1718425800},
                {"devId": "SN-2", "code": 4242, "t": 1718425860},
            ]
        }
    ).encode()
    root = parse(events_message(profile, raw))
    assert [e.get("ref") for e in root.iterfind(".//{*}EndDeviceEventType")] == [
        "3.12.0.257",
        "IS15959.EventID=4242",
    ]


def test_rows_that_do_not_fit_are_refused_alone_and_the_rest_kept() -> None:
    profile = load_profile("vendor-b")
    good = [{"t": 1718425800, "obis": "1.0.1.29.0.255", "v": 0.5},
            {"t": 1718427600, "obis": "1.0.1.29.0.255", "v": 0.75}]  # fmt: skip
    bad = [{"ts": 1718429400, "obis": "1.0.1.29.0.255", "v": 1}, "not a row",
           {"t": 1718429400, "obis": "1.0.1.29.0.255", "v": "n/a"}]  # fmt: skip
    raw = json.dumps({"devId": "SN-2", "data": [good[0], bad[0], good[1], bad[1], bad[2]]})
    translation = readings(profile, raw.encode())
    root = parse(translation.message)
    assert [v.text for v in root.iterfind(".//{*}IntervalReadings/{*}value")] == ["0.5", "0.75"]
    assert [r.reason for r in translation.refused] == [
        "time field 't' missing",
        "row 'not a row' is not a JSON object",
        "value 'n/a' of 1.0.1.29.0.255 is not a number",
    ]
    assert [json.loads(r.body) for r in translation.refused] == [
        {"devId": "SN-2", "data": [row]} for row in bad
    ]  # each a payload of its own, to replay once the profile fits
    with pytest.raises(InvalidValueError, match="time field 't' missing"):
        readings_message(profile, raw.encode())


def test_events_that_do_not_fit_are_refused_alone() -> None:
    profile = load_profile("vendor-b")
    raw = json.dumps({"alarms": [{"devId": "SN-2", "code": 101, "t": 1718425800},
                                 {"devId": "SN-2", "t": 1718425860}]})  # fmt: skip
    translation = events(profile, raw.encode())
    root = parse(translation.message)
    assert [e.get("ref") for e in root.iterfind(".//{*}EndDeviceEventType")] == ["3.26.0.85"]
    assert [(r.reason, json.loads(r.body)) for r in translation.refused] == [
        ("event id field 'code' missing", {"alarms": [{"devId": "SN-2", "t": 1718425860}]})
    ]
    only_bad = json.dumps({"alarms": [{"devId": "SN-2", "t": 1}]}).encode()
    assert events(profile, only_bad).message is None


def test_commands_out_and_status_back() -> None:
    profile = load_profile("vendor-a")
    command = Command("C-9", CommandKind.DISCONNECT, MeterRef("M-9", ("SN-9",)), "asha", "CIS")
    assert json.loads(command_json(profile, command)) == {
        "requestId": "C-9",
        "meterSerial": "SN-9",
        "action": "RELAY_DISCONNECT",
    }
    status = json.dumps(
        {
            "requestId": "C-9",
            "meterSerial": "SN-9",
            "action": "RELAY_DISCONNECT",
            "status": "success",
            "ts": "2024-06-15T10:15:00+05:30",
        }
    ).encode()
    root = parse(status_message(profile, status))
    assert root.findtext(".//{*}status/{*}value") == "executed"
    assert root.findtext(".//{*}EndDeviceControl/{*}mRID") == "C-9"


@pytest.mark.parametrize(
    ("vendor", "words"),
    [
        ("vendor-a", ["SYNC_CLOCK", "MD_RESET", "SET_MODE_PREPAID", "SET_MODE_POSTPAID"]),
        ("vendor-b", ["TIMESYNC", "MDRESET", "PREPAID", "POSTPAID"]),
    ],
)
def test_the_new_kinds_in_each_vendor_s_words_and_their_status_back(
    vendor: str, words: list[str]
) -> None:
    profile = load_profile(vendor)
    spec = profile.commands
    kinds = [
        CommandKind.TIME_SYNC,
        CommandKind.MD_RESET,
        CommandKind.PREPAID_MODE,
        CommandKind.POSTPAID_MODE,
    ]
    for kind, word in zip(kinds, words, strict=True):
        command = Command("C-7", kind, MeterRef("M-7", ("SN-7",)), "asha", "CIS")
        sent = json.loads(command_json(profile, command))
        assert sent[spec["action"]] == word
        status = {**sent, spec["status"]: "failed", spec["time"]: "2024-06-15T10:15:00+05:30"}
        if profile.events.get("time_format") == "epoch":
            status[spec["time"]] = 1718425800
        root = parse(status_message(profile, json.dumps(status).encode()))
        assert root.find(".//{*}EndDeviceControlType").get("ref") == CONTROL_CODES[kind]
        assert root.findtext(".//{*}status/{*}value") == "failed"


def test_a_kind_the_vendor_profile_has_no_word_for_is_refused() -> None:
    profile = load_profile("vendor-b")
    del profile.command_words["md_reset"]
    command = Command("C-8", CommandKind.MD_RESET, MeterRef("M-8"), "asha", "CIS")
    with pytest.raises(InvalidValueError, match="no command md_reset"):
        command_json(profile, command)


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [
        ("vendor-a", {"fromTs": "2024-06-15T00:00:00+00:00", "toTs": "2024-06-15T02:00:00+00:00"}),
        ("vendor-b", {"from": 1_718_409_600, "to": 1_718_416_800}),
    ],
)
def test_a_read_names_its_period_in_the_vendors_fields(vendor: str, expected: dict) -> None:
    command = Command("R-1", CommandKind.READ, MeterRef("M-1", ("SN-1",)), "cimhub", "sweep",
                      period=Period(1_718_409_600, 1_718_416_800))  # fmt: skip
    body = json.loads(command_json(load_profile(vendor), command))
    assert {k: v for k, v in body.items() if k in expected} == expected


@pytest.mark.parametrize("vendor", ["vendor-a", "vendor-b"])
def test_md_reset_and_payment_mode_events_are_mapped(vendor: str) -> None:
    """IS 15959 166 (MD reset), 211 / 212 (switched to postpaid / prepaid): the CIM codes of
    the hub's own MD-reset and mode-switch controls, so they are stored mapped."""
    profile = load_profile(vendor)
    spec = profile.events
    stamp = 1718425800 if spec["time_format"] == "epoch" else "2024-06-15T10:00:00+05:30"
    rows = [{spec["meter"]: "SN-1", spec["id"]: code, spec["time"]: stamp}
            for code in ("166", "211", "212")]  # fmt: skip
    raw = json.dumps({spec["list"]: rows}).encode()
    root = parse(events_message(profile, raw))
    types = [e.get("ref") for e in root.iterfind(".//{*}EndDeviceEventType")]
    assert types == [
        CONTROL_CODES[CommandKind.MD_RESET],
        CONTROL_CODES[CommandKind.POSTPAID_MODE],
        CONTROL_CODES[CommandKind.PREPAID_MODE],
    ]
    assert all(Event(MeterRef("m"), 0, t).mapped for t in types)
