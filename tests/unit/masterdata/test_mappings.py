"""MeterConfig, UsagePointConfig and MasterDataLinkageConfig payloads → specs, and back."""

from __future__ import annotations

from importlib import resources

import pytest
from lxml import etree

from cimhub.domain.lifecycle import Stage
from cimhub.domain.usage_point import PaymentMode
from cimhub.errors import InvalidValueError
from cimhub.mappings.master_data_linkage import read_linkage
from cimhub.mappings.meter_config import read_meter_config, write_meter_config
from cimhub.mappings.usage_point_config import read_usage_point_config
from cimhub.message.envelope import read_envelope
from cimhub.message.schema import compiled_schema

MESSAGES = resources.files("cimhub") / "cim" / "messages"


def payload(name: str) -> etree._Element:
    envelope = read_envelope(etree.fromstring((MESSAGES / name).read_bytes()))
    assert envelope.payload is not None
    return envelope.payload


def test_meter_config_carries_make_multipliers_and_stage() -> None:
    single, ht = read_meter_config(payload("MeterConfig/create-2-meters.xml"))
    assert (single.mrid, single.serial_number, single.make, single.hes) == (
        "MH4528931",
        "MH4528931",
        "Meter Maker A Pvt Ltd",
        "HES-A",
    )
    assert single.stage is Stage.IN_STORE and single.phases == 1
    assert (ht.ct_ratio, ht.pt_ratio, ht.stage) == (40.0, 100.0, Stage.INSTALLED)
    assert ht.reason == "new HT connection"


def test_a_status_that_is_no_stage_is_refused() -> None:
    el = payload("MeterConfig/change-meter-status.xml")
    el.find(".//{*}status/{*}value").text = "sold"
    with pytest.raises(InvalidValueError) as caught:
        read_meter_config(el)
    assert caught.value.xpath == "MeterConfig/Meter[1]/status/value"


def test_usage_point_config_reads_the_indian_facts() -> None:
    (point,) = read_usage_point_config(payload("UsagePointConfig/create-residential-prepaid.xml"))
    assert point.consumer_number == "N3312045678"
    assert point.payment_mode is PaymentMode.PREPAID
    assert (point.sanctioned_load, point.load_unit) == (3.0, "kW")
    assert point.tariff_code == "LT-I-DOMESTIC-TOD"
    assert point.dt_code == "DT-PN-R2-0457"
    assert (point.latitude, point.longitude) == (18.4712, 73.8295)
    assert point.supply_voltage == 230.0


def test_a_linkage_names_meter_usage_point_and_when() -> None:
    (link,) = read_linkage(payload("MasterDataLinkageConfig/create-meter-to-usagepoint.xml"))
    assert (link.meter, link.usage_point, link.role.value) == ("MH4528931", "N3312045678", "main")
    assert link.by == "lineman.pn-r2.017" and not link.replaces
    assert link.at == 1718186400  # 2024-06-12T15:30:00+05:30


def test_written_meter_config_validates_against_our_profile() -> None:
    meter = {
        "id": 1,
        "mrid": "M1",
        "hes": "HES-A",
        "lot_number": None,
        "serial_number": "S1",
        "make": "Maker",
        "model": "X",
        "phases": 3,
        "ct_ratio": 40.0,
        "pt_ratio": None,
        "meter_type": "ht",
        "dials": 8,
        "firmware": "1.0",
        "comm_module": None,
        "purchase_order": "PO-1",
        "warranty_until": "2029-03-31",
        "auto_registered": False,
        "lifecycle_stage": "in_service",
        "lifecycle_since": 1718186400,
        "usage_point": "UP1",
    }
    element = write_meter_config([meter], {1: {"installationDate": 1718186400}})
    schema = compiled_schema()
    assert schema.validate(element), schema.error_log
    (spec,) = read_meter_config(element)
    assert (spec.mrid, spec.ct_ratio, spec.stage, spec.purchase_order) == (
        "M1",
        40.0,
        Stage.IN_SERVICE,
        "PO-1",
    )
