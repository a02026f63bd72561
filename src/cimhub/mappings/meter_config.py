"""MeterConfig payloads ↔ MeterSpec (in) and stored meters (out).

Beyond the profile's own attributes, meter facts travel as typed ``Names`` (the
convention of the golden messages): SerialNumber, MeterType, Dials, Firmware,
CommModule, PurchaseOrder, WarrantyUntil. ``status/value`` is the lifecycle stage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lxml import etree

from cimhub.domain.lifecycle import parse_stage
from cimhub.domain.meter import MeterSpec, parse_meter_type
from cimhub.errors import InvalidValueError, PayloadError
from cimhub.mappings.cim_object import Builder, config_event, moment, number, tag, text, typed_names
from cimhub.message import ns

MC = ns.payload_ns("MeterConfig")
q = tag(MC)


def read_meter_config(payload: etree._Element | None) -> list[MeterSpec]:
    """Every Meter of a MeterConfig payload; 2.1 for a value that cannot be right."""
    if payload is None or payload.tag != q("MeterConfig"):
        raise PayloadError("the message carries no MeterConfig payload")
    meters = [_meter(el, i) for i, el in enumerate(payload.iterfind(q("Meter")), 1)]
    if not meters:
        raise PayloadError("the MeterConfig payload holds no Meter")
    return meters


def _meter(el: etree._Element, index: int) -> MeterSpec:
    names = typed_names(el, q)
    status = el.find(q("status"))
    event = config_event(el.find(q("ConfigurationEvents")), q)
    stage_text = text(status, "value", q)
    stage = parse_stage(stage_text)
    if stage_text and stage is None:
        raise InvalidValueError(
            f"Meter[{index}]: status {stage_text!r} is not a lifecycle stage",
            xpath=f"MeterConfig/Meter[{index}]/status/value",
        )
    multipliers = {
        (text(m, "kind", q) or "").lower(): number(text(m, "value", q), "multiplier")
        for m in el.iterfind(q("MeterMultipliers"))
    }
    kind = names.get("metertype")
    phases = text(el, "EndDeviceInfo/phaseCount", q)
    dials = names.get("dials")
    return MeterSpec(
        mrid=text(el, "mRID", q),
        serial_number=text(el, "serialNumber", q) or names.get("serialnumber"),
        make=text(el, "EndDeviceInfo/AssetModel/Manufacturer/Names/name", q),
        model=text(el, "EndDeviceInfo/AssetModel/modelNumber", q),
        meter_type=parse_meter_type(kind) if kind else None,
        phases=int(phases) if phases else None,
        ct_ratio=multipliers.get("ctratio"),
        pt_ratio=multipliers.get("ptratio"),
        dials=int(dials) if dials and dials.isdigit() else None,
        firmware=names.get("firmware") or text(el, "EndDeviceInfo/AssetModel/modelVersion", q),
        comm_module=names.get("commmodule"),
        hes=text(el, "amrSystem", q),
        purchase_order=names.get("purchaseorder"),
        warranty_until=names.get("warrantyuntil"),
        lot_number=text(el, "lotNumber", q),
        stage=stage,
        stage_at=moment(text(status, "dateTime", q)) or event.effective,
        changed_by=event.by or None,
        reason=text(status, "reason", q) or event.reason or None,
    )


def write_meter_config(
    meters: Iterable[dict[str, Any]], dates: dict[int, dict[str, int]]
) -> etree._Element:
    """A MeterConfig payload describing stored meters (profile order)."""
    b = Builder(MC)
    root = etree.Element(q("MeterConfig"), nsmap={None: MC})
    for m in meters:
        el = b.sub(root, "Meter")
        b.sub(el, "mRID", m["mrid"])
        b.opt(el, "amrSystem", m["hes"])
        b.opt(el, "lotNumber", m["lot_number"])
        b.opt(el, "serialNumber", m["serial_number"])
        info = b.sub(el, "EndDeviceInfo")
        if m["make"] or m["model"]:
            model = b.sub(info, "AssetModel")
            if m["make"]:
                b.sub(b.sub(b.sub(model, "Manufacturer"), "Names"), "name", m["make"])
            b.opt(model, "modelNumber", m["model"])
        b.opt(info, "phaseCount", m["phases"])
        if mine := dates.get(m["id"]):
            cycle = b.sub(el, "lifecycle")
            for attr in sorted(mine):
                b.sub(cycle, attr, b.stamp(mine[attr]))
        for kind in ("ct_ratio", "pt_ratio"):
            if m[kind] is not None:
                mult = b.sub(el, "MeterMultipliers")
                b.sub(mult, "kind", kind.replace("_r", "R"))
                b.sub(mult, "value", m[kind])
        for kind, column in (
            ("SerialNumber", "serial_number"),
            ("MeterType", "meter_type"),
            ("Dials", "dials"),
            ("Firmware", "firmware"),
            ("CommModule", "comm_module"),
            ("PurchaseOrder", "purchase_order"),
            ("WarrantyUntil", "warranty_until"),
        ):
            b.name(el, m[column], kind)
        b.name(el, "true" if m["auto_registered"] else None, "AutoRegistered")
        status = b.sub(el, "status")
        b.opt(status, "dateTime", b.stamp(m["lifecycle_since"]))
        b.sub(status, "value", m["lifecycle_stage"])
        if m.get("usage_point"):
            b.sub(b.sub(el, "UsagePoints"), "mRID", m["usage_point"])
    return root
