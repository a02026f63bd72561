"""EndDeviceControls payloads ↔ commands: one command per (control, meter), status words."""

from __future__ import annotations

from importlib import resources

import pytest
from lxml import etree

from cimhub.domain.command import Command, CommandKind, State, Transition
from cimhub.domain.meter_read import Period
from cimhub.domain.reading import MeterRef
from cimhub.mappings.end_device_controls import (
    read_end_device_controls,
    status_state,
    write_end_device_controls,
)
from cimhub.message import schema

MESSAGES = resources.files("cimhub") / "cim" / "messages" / "EndDeviceControls"


def payload(name: str) -> etree._Element:
    root = etree.fromstring((MESSAGES / name).read_bytes())
    return root.find(".//{*}EndDeviceControls")


def test_a_control_naming_three_meters_is_three_commands() -> None:
    items, errors = read_end_device_controls(payload("create-connect-3-meters.xml"), "m-1")
    assert errors == []
    assert [(i.mrid, i.meter.key) for i in items] == [
        ("CIS-RECON-20240615-0042:MH4528931", "MH4528931"),
        ("CIS-RECON-20240615-0042:MH4528932", "MH4528932"),
        ("CIS-RECON-20240615-0042:MH7710245", "MH7710245"),
    ]
    assert {i.control_type for i in items} == {"3.31.0.18"}


def test_a_load_limit_is_read_in_watts() -> None:
    (item,), _ = read_end_device_controls(payload("create-load-limit.xml"), None)
    assert item.demand_limit_w == 2000.0


def test_a_head_end_status_is_a_state() -> None:
    (item,), _ = read_end_device_controls(payload("created-hes-ack.xml"), None)
    assert (item.status, status_state(item)) == ("queued", State.ACKNOWLEDGED)


def test_an_unsupported_control_type_is_an_error_with_its_xpath() -> None:
    raw = (MESSAGES / "create-load-limit.xml").read_bytes().replace(b"3.15.139.24", b"9.9.9.9")
    raw = raw.replace(b"setLoadLimit", b"dance")
    items, errors = read_end_device_controls(
        etree.fromstring(raw).find(".//{*}EndDeviceControls"), None
    )
    assert items == []
    assert [(e.code, e.xpath) for e in errors] == [
        ("2.1", "/EndDeviceControls/EndDeviceControl[1]/EndDeviceControlType")
    ]


def test_commands_are_written_back_valid_and_read_again() -> None:
    command = Command(
        "C-1",
        CommandKind.LOAD_LIMIT,
        MeterRef("M-1", ("SN-1",)),
        "asha",
        "CIS",
        demand_limit_w=1500.0,
        history=[Transition(State.SENT, 1_718_425_800, "cimhub", "queued")],
    )
    written = write_end_device_controls([command])
    assert schema.compiled_schema().validate(etree.fromstring(etree.tostring(written)))
    (item,), errors = read_end_device_controls(written, None)
    assert errors == []
    assert (item.mrid, item.control_type, item.action, item.demand_limit_w, item.status) == (
        "C-1",
        "3.15.139.24",
        "setLoadLimit",
        1500.0,
        "sent",
    )


def test_a_group_and_a_meter_of_one_control_are_one_command_each() -> None:
    items, errors = read_end_device_controls(payload("create-time-sync-group.xml"), "m-2")
    assert errors == []
    assert [(i.mrid, i.meter.key, i.control_type) for i in items] == [
        ("OPS-TSYNC-20240615-DT17:MH7710245", "MH7710245", "3.36.116.13"),
        ("OPS-TSYNC-20240615-DT17:MH4528931", "MH4528931", "3.36.116.13"),
        ("OPS-TSYNC-20240615-DT17:SN4528932", "SN4528932", "3.36.116.13"),
    ]


def test_a_group_named_without_its_members_is_refused_with_its_xpath() -> None:
    items, errors = read_end_device_controls(payload("create-md-reset-named-group.xml"), None)
    assert items == []
    assert [(e.code, e.xpath, e.object_id) for e in errors] == [
        (
            "2.15",
            "/EndDeviceControls/EndDeviceControl[1]/EndDeviceGroups[1]",
            "CYCLE-1-HT-METERS",
        )
    ]


@pytest.mark.parametrize(
    ("kind", "code", "word"),
    [
        (CommandKind.TIME_SYNC, "3.36.116.13", "timeSync"),
        (CommandKind.MD_RESET, "3.8.0.214", "demandReset"),
        (CommandKind.PREPAID_MODE, "3.20.9.26", "switchToPrepaid"),
        (CommandKind.POSTPAID_MODE, "3.20.9.22", "switchToPostpaid"),
    ],
)
def test_the_new_kinds_go_out_with_their_code_and_word_and_read_back(
    kind: CommandKind, code: str, word: str
) -> None:
    command = Command("C-2", kind, MeterRef("M-2"), "asha", "CIS")
    written = write_end_device_controls([command], with_status=False)
    assert schema.compiled_schema().validate(etree.fromstring(etree.tostring(written)))
    (item,), errors = read_end_device_controls(written, None)
    assert errors == []
    assert (item.control_type, item.action) == (code, word)


def test_a_read_carries_its_period_as_the_scheduled_interval() -> None:
    command = Command(
        "R-1", CommandKind.READ, MeterRef("M-1", ("SN-1",)), "cimhub", "sweep",
        period=Period(1_718_409_600, 1_718_416_800),
    )  # fmt: skip
    written = write_end_device_controls([command], with_status=False)
    assert schema.compiled_schema().validate(etree.fromstring(etree.tostring(written)))
    assert written.findtext(".//{*}scheduledInterval/{*}start") == "2024-06-15T00:00:00Z"
    (item,), errors = read_end_device_controls(written, None)
    assert errors == [] and item.period == command.period


def test_a_scheduled_interval_needs_both_ends_in_order() -> None:
    command = Command("R-2", CommandKind.READ, MeterRef("M-1"), "cimhub", "sweep",
                      period=Period(2000, 1000))  # fmt: skip
    _, errors = read_end_device_controls(write_end_device_controls([command]), None)
    assert [(e.code, e.xpath) for e in errors] == [
        ("2.1", "/EndDeviceControls/EndDeviceControl[1]/scheduledInterval")
    ]
