"""CSV rows → specs: every unreadable row is reported with its file, row and code."""

from __future__ import annotations

from cimhub.domain.lifecycle import Stage
from cimhub.imports.rows import Kind, parse, when


def test_meter_rows_and_their_errors() -> None:
    rows = [
        {"serial_number": "S1", "make": "A", "ct_ratio": "40", "stage": "in service"},
        {"serial_number": "S2", "ct_ratio": "forty"},
        {"serial_number": "S3", "stage": "sold"},
        {"make": "no id"},
        {"serial_number": "F1", "node_code": "FDR1", "stage_date": "2024-01-01"},
    ]
    parsed = parse(Kind.METER, "meter.csv", rows)
    assert [s.serial_number for _, s in parsed.meters] == ["S1", "F1"]
    assert parsed.meters[0][1].stage is Stage.IN_SERVICE
    assert [(e.file, e.row, e.code) for e in parsed.errors] == [
        ("meter.csv", 2, "2.1"),
        ("meter.csv", 3, "2.1"),
        ("meter.csv", 4, "2.1"),
    ]
    ((row, link),) = parsed.links
    assert (row, link.node, link.role.value) == (5, "FDR1", "feeder")


def test_consumer_rows_link_their_meter() -> None:
    rows = [
        {
            "consumer_number": "C1",
            "category": "Domestic",
            "payment_mode": "Prepaid",
            "meter_serial": "S1",
            "installed_on": "2024-06-12",
            "initial_read": "3.5",
        },
        {"consumer_number": "C2", "latitude": "95"},
        {"consumer_number": "C3", "meter_serial": "S3"},
    ]
    parsed = parse(Kind.CONSUMER, "consumer.csv", rows)
    assert [s.consumer_number for _, s in parsed.points] == ["C1"]
    ((_, link),) = parsed.links
    assert (link.meter, link.usage_point, link.initial_read, link.at) == (
        "S1",
        "C1",
        3.5,
        when("2024-06-12"),
    )
    assert [e.row for e in parsed.errors] == [2, 3]


def test_dates_are_ist_midnights_unless_zoned() -> None:
    assert when("2024-06-12") == 1718130600
    assert when("2024-06-12T00:00:00Z") == 1718150400
