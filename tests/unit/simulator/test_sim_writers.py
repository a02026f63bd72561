"""What the simulated head-ends send: schema-valid CIM, and vendor JSON the hub's own
profiles turn back into the generated values (scalers, register reads, event IDs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from lxml import etree

from cimhub.adapters.profile import load_profile
from cimhub.adapters.vendor_json import events_message, readings_message
from cimhub.domain.reading import ReadingKind
from cimhub.mappings.meter_readings import read_meter_readings
from cimhub.message import schema
from cimhub.message.envelope import read_envelope
from cimhub.simulator import cim_writer, vendor_writer
from cimhub.simulator.faults import FaultPlan, GroundTruth
from cimhub.simulator.fleet import numbered
from cimhub.simulator.injector import Injector
from cimhub.simulator.profiles import Batch, ProfileGenerator

START = int(datetime(2024, 5, 30, 18, 30, tzinfo=UTC).timestamp())  # 31 May 00:00 IST


def two_days(interval: int = 900) -> Batch:
    """Two days of three meters (a billing date between), with a tamper burst."""
    meters = numbered(3, interval=interval)
    plan = FaultPlan()
    plan.tamper_burst(meters[0].serial, START + 3600)
    batch = ProfileGenerator(meters, START).advance(START + 2 * 86_400)
    return Injector(plan, GroundTruth(), meters).apply(batch, START, START + 2 * 86_400)


def series_of(raw: bytes) -> dict[tuple[str, str], tuple[ReadingKind, dict[int, float]]]:
    root = etree.fromstring(raw)
    assert schema.compiled_schema().validate(root), schema.compiled_schema().error_log
    items, errors = read_meter_readings(read_envelope(root).payload)
    assert errors == []
    return {
        (s.meter.names[0], s.reading_type): (s.kind, dict(zip(s.timestamps, s.values, strict=True)))
        for item in items
        for s in item.series
    }


def test_cim_readings_carry_every_profile_in_valid_messages() -> None:
    batch = two_days()
    messages = cim_writer.meter_readings(batch, "HES-X", meters_per_message=2)
    assert len(messages) == 2
    found: dict = {}
    for raw in messages:
        found |= series_of(raw)
    block = batch.blocks[5]
    kind, values = found[(block.meter.serial, "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0")]
    assert (
        kind is ReadingKind.INTERVAL
        and values[block.end] == block.kwh_import
        and len(values) == 192
    )
    bill = batch.billing[0]
    kind, md = found[(bill.meter.serial, cim_writer.MD_KW)]
    assert kind is ReadingKind.REGISTER and md == {bill.md_kw_at: bill.md_kw}
    tou = [found[(bill.meter.serial, cim_writer.tou_type(z))][1][bill.at] for z in (1, 2, 3, 4)]
    assert tou == list(bill.kwh_tou)
    daily = [d for d in batch.daily if d.meter == bill.meter]
    registers = found[(bill.meter.serial, cim_writer.KWH_IMPORT)][1]
    assert registers == {d.at: d.kwh_import for d in daily}


def test_cim_events_map_is15959_ids_and_keep_them() -> None:
    raw = cim_writer.end_device_events(two_days(), "HES-X")
    root = etree.fromstring(raw)
    assert schema.compiled_schema().validate(root), schema.compiled_schema().error_log
    types = [el.get("ref") for el in root.iter("{*}EndDeviceEventType")]
    assert types == ["3.12.29.39", "3.12.66.257", "3.12.93.219", "3.12.0.257", "3.12.0.257"]
    assert root.findtext(".//{*}Source") == "HES-X"


@pytest.mark.parametrize(("vendor", "interval"), [("vendor-a", 900), ("vendor-b", 1800)])
def test_vendor_json_comes_back_as_the_generated_values(vendor: str, interval: int) -> None:
    profile, batch = load_profile(vendor), two_days(interval)
    rows = vendor_writer.rows_by_meter(batch)
    serial = batch.blocks[0].meter.serial
    payload = vendor_writer.readings_payload(profile, serial, rows[serial])
    found = series_of(readings_message(profile, json.dumps(payload).encode()))
    period = cim_writer.PERIOD[interval]
    blocks = [b for b in batch.blocks if b.meter.serial == serial]
    kind, values = found[(serial, f"0.0.{period}.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0")]
    assert kind is ReadingKind.INTERVAL and values == {b.end: b.kwh_import for b in blocks}
    bill = next(b for b in batch.billing if b.meter.serial == serial)
    kind, md = found[(serial, cim_writer.MD_KW)]
    assert kind is ReadingKind.REGISTER and md == {bill.md_kw_at: bill.md_kw}
    kind, registers = found[(serial, cim_writer.KWH_IMPORT)]
    assert registers == {d.at: d.kwh_import for d in batch.daily if d.meter.serial == serial}


@pytest.mark.parametrize("vendor", ["vendor-a", "vendor-b"])
def test_vendor_events_come_back_mapped(vendor: str) -> None:
    profile = load_profile(vendor)
    payload = vendor_writer.events_payload(profile, two_days())
    root = etree.fromstring(events_message(profile, json.dumps(payload).encode()))
    codes = [el.findtext("{*}value") for el in root.iter("{*}EndDeviceEventDetails")
             if el.findtext("{*}name") == "IS15959.EventID"]  # fmt: skip
    assert codes == ["251", "201", "51", "203", "65"]


#: The billing profile's power-on duration (0.0.94.91.13.255), in minutes per billing period.
POWER_ON_MINUTES = "8.0.0.4.0.1.11.0.0.0.0.0.0.0.0.0.159.0"


@pytest.mark.parametrize(("vendor", "interval"), [("vendor-a", 900), ("vendor-b", 1800)])
def test_every_billing_column_comes_back_as_its_reading_type(vendor: str, interval: int) -> None:
    """TOU kWh, MD kW and kVA at their times, average power factor and power-on minutes:
    both vendors map the whole IS 15959 billing profile the simulator sends."""
    profile, batch = load_profile(vendor), two_days(interval)
    bill = batch.billing[0]
    serial = bill.meter.serial
    payload = vendor_writer.readings_payload(profile, serial, vendor_writer.billing_rows(bill))
    found = series_of(readings_message(profile, json.dumps(payload).encode()))
    expected = {cim_writer.tou_type(zone): {bill.at: v} for zone, v in enumerate(bill.kwh_tou, 1)}
    expected |= {
        cim_writer.MD_KW: {bill.md_kw_at: bill.md_kw},
        cim_writer.MD_KVA: {bill.md_kva_at: bill.md_kva},
        cim_writer.AVERAGE_PF: {bill.at: bill.power_factor},
        POWER_ON_MINUTES: {bill.at: float(bill.power_on_minutes)},
    }
    for code, values in expected.items():
        assert found[(serial, code)] == (ReadingKind.REGISTER, values), code
