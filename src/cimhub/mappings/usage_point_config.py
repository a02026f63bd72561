"""UsagePointConfig payloads ↔ UsagePointSpec (in) and stored usage points (out).

Consumer facts the profile has no attribute for travel as typed ``Names`` (the golden
messages' convention): IVRS / ConsumerNumber / KNumber, ConsumerName, Category,
PaymentMode, Mobile, Email, NetMetering, PVCapacity (kW), SanctionedLoad ("10 kVA"),
OrganisationUnit, ConnectedLoad (kW), OperatingHours. The DT and feeder are
``Equipments`` named with NameType DistributionTransformer / Feeder; ``ratedPower`` (W)
is the sanctioned load in kW ×1000 when no SanctionedLoad name says otherwise.

The meters a usage point lists (``Meters`` or ``EndDevices``, by mRID or name; a typed
name MeterRole for a check or generation meter) are links to make: installed from the
ConfigurationEvents' effectiveDateTime, as a MasterDataLinkageConfig would
(``read_usage_point_meters``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from lxml import etree

from cimhub.domain.installation import LinkSpec, parse_role
from cimhub.domain.usage_point import UsagePointSpec, parse_category, parse_payment_mode
from cimhub.errors import InvalidValueError, PayloadError
from cimhub.mappings.cim_object import (
    Builder,
    config_event,
    flag,
    number,
    ref,
    tag,
    text,
    typed_names,
)
from cimhub.message import ns

UP = ns.payload_ns("UsagePointConfig")
q = tag(UP)
CONSUMER_NUMBER_KINDS = ("ivrs", "consumernumber", "knumber", "accountnumber")
DT_KINDS = ("distributiontransformer", "dt", "dtr")


def read_usage_point_config(payload: etree._Element | None) -> list[UsagePointSpec]:
    if payload is None or payload.tag != q("UsagePointConfig"):
        raise PayloadError("the message carries no UsagePointConfig payload")
    points = [_point(el, i) for i, el in enumerate(payload.iterfind(q("UsagePoint")), 1)]
    if not points:
        raise PayloadError("the UsagePointConfig payload holds no UsagePoint")
    return points


def read_usage_point_meters(
    payload: etree._Element, specs: list[UsagePointSpec], default_at: int
) -> list[LinkSpec]:
    """The links the usage points' Meters / EndDevices ask for (one per meter and point),
    effective at each point's ConfigurationEvents effectiveDateTime, else ``default_at``."""
    links: dict[tuple[str, str], LinkSpec] = {}
    for index, (el, spec) in enumerate(
        zip(payload.iterfind(q("UsagePoint")), specs, strict=True), 1
    ):
        event = config_event(el.find(q("ConfigurationEvents")), q)
        for local in ("Meters", "EndDevices"):
            for found in el.iterfind(q(local)):
                meter = ref(found, q)
                if meter.key is None:
                    raise InvalidValueError(
                        "a meter reference names nothing",
                        xpath=f"UsagePointConfig/UsagePoint[{index}]/{local}",
                    )
                links.setdefault(
                    (spec.key, meter.key),
                    LinkSpec(
                        meter=meter.key,
                        at=event.effective if event.effective is not None else default_at,
                        usage_point=spec.key,
                        role=parse_role(meter.names.get("meterrole")),
                        by=event.by,
                        reason=event.reason or "listed by UsagePointConfig",
                    ),
                )
    return list(links.values())


def _point(el: etree._Element, index: int) -> UsagePointSpec:
    names = typed_names(el, q)
    equipment = {}
    for eq in el.iterfind(q("Equipments")):
        equipment.update(typed_names(eq, q))
    location = el.find(q("ServiceLocation"))
    if location is None:
        location = el.find(q("UsagePointLocation"))
    load, unit = _load(names.get("sanctionedload"), text(el, "ratedPower", q))
    where = f"UsagePointConfig/UsagePoint[{index}]"
    try:
        return UsagePointSpec(
            mrid=text(el, "mRID", q),
            consumer_number=next((names[k] for k in CONSUMER_NUMBER_KINDS if k in names), None),
            name=names.get("consumername") or names.get("name"),
            address=_address(location),
            mobile=names.get("mobile"),
            email=names.get("email"),
            category=parse_category(names["category"]) if "category" in names else None,
            sanctioned_load=load,
            load_unit=unit,
            tariff_code=text(el, "PricingStructures/Names/name", q)
            or text(el, "PricingStructures/mRID", q),
            payment_mode=parse_payment_mode(names["paymentmode"])
            if "paymentmode" in names
            else None,
            net_metering=flag(names.get("netmetering")),
            pv_capacity_kw=number(names.get("pvcapacity"), "PVCapacity"),
            supply_voltage=number(text(el, "nominalServiceVoltage", q), "nominalServiceVoltage"),
            dt_code=next((equipment[k] for k in DT_KINDS if k in equipment), None),
            feeder_code=equipment.get("feeder"),
            org_code=names.get("organisationunit") or names.get("section"),
            latitude=number(text(location, "PositionPoints/yPosition", q), "yPosition"),
            longitude=number(text(location, "PositionPoints/xPosition", q), "xPosition"),
            metered=_metered(el, names),
            connected_load_kw=number(names.get("connectedload"), "ConnectedLoad"),
            operating_hours=number(names.get("operatinghours"), "OperatingHours"),
            status=text(el, "status/value", q) or text(el, "connectionState", q),
            connected_on=config_event(el.find(q("ConfigurationEvents")), q).effective,
        )
    except InvalidValueError as exc:
        raise InvalidValueError(exc.reason, xpath=where) from exc


def _metered(el: etree._Element, names: dict[str, str]) -> bool | None:
    if "metered" in names:
        return flag(names["metered"])
    return False if flag(text(el, "isVirtual", q)) else None


def _load(named: str | None, rated_watts: str | None) -> tuple[float | None, str | None]:
    """('10 kVA', _) → (10, 'kVA'); (None, '3000') → (3, 'kW')."""
    if named:
        match = re.fullmatch(r"\s*([0-9.]+)\s*(kw|kva)?\s*", named, re.IGNORECASE)
        if not match:
            raise InvalidValueError(f"SanctionedLoad {named!r} is not like '10 kVA'")
        unit = "kVA" if (match.group(2) or "kw").lower() == "kva" else "kW"
        return float(match.group(1)), unit
    watts = number(rated_watts, "ratedPower")
    return (watts / 1000, "kW") if watts is not None else (None, None)


def _address(location: etree._Element | None) -> str | None:
    if location is None:
        return None
    parts = [
        text(location, f"mainAddress/{p}", q)
        for p in (
            "streetDetail/addressGeneral",
            "streetDetail/name",
            "townDetail/name",
            "townDetail/stateOrProvince",
            "postalCode",
        )
    ]
    return ", ".join(p for p in parts if p) or None


def write_usage_point_config(points: Iterable[dict[str, Any]]) -> etree._Element:
    """A UsagePointConfig payload describing stored usage points (profile order)."""
    b = Builder(UP)
    root = etree.Element(q("UsagePointConfig"), nsmap={None: UP})
    for p in points:
        el = b.sub(root, "UsagePoint")
        b.sub(el, "mRID", p["mrid"])
        b.opt(el, "connectionState", p["status"])
        b.opt(el, "isVirtual", None if p["metered"] else True)
        b.opt(el, "nominalServiceVoltage", p["supply_voltage"])
        if p["sanctioned_load"] is not None and p["load_unit"] == "kW":
            b.sub(el, "ratedPower", p["sanctioned_load"] * 1000)
        if p["connected_on"] is not None:
            b.sub(b.sub(el, "ConfigurationEvents"), "effectiveDateTime", b.stamp(p["connected_on"]))
        for meter in p["meters"]:
            b.sub(b.sub(el, "EndDevices"), "mRID", meter["mrid"])
        for code, kind in ((p["dt"], "DistributionTransformer"), (p["feeder"], "Feeder")):
            if code:
                b.name(b.sub(el, "Equipments"), code, kind)
        load = p["sanctioned_load"]
        for kind, value in (
            ("IVRS", p["consumer_number"]),
            ("ConsumerName", p["name"]),
            ("Category", p["category"]),
            ("PaymentMode", p["payment_mode"]),
            ("Mobile", p["mobile"]),
            ("Email", p["email"]),
            ("NetMetering", None if p["net_metering"] is None else str(p["net_metering"]).lower()),
            ("PVCapacity", p["pv_capacity_kw"]),
            ("SanctionedLoad", None if load is None else f"{load:g} {p['load_unit'] or 'kW'}"),
            ("OrganisationUnit", p["org"]),
            ("ConnectedLoad", p["connected_load_kw"]),
            ("OperatingHours", p["operating_hours"]),
        ):
            b.name(el, value, kind)
        if p["tariff_code"]:
            b.name(b.sub(el, "PricingStructures"), p["tariff_code"])
        b.sub(b.sub(el, "ServiceCategory"), "kind", "electricity")
        if p["address"] or p["latitude"] is not None:
            loc = b.sub(el, "ServiceLocation")
            if p["address"]:
                b.sub(
                    b.sub(b.sub(loc, "mainAddress"), "streetDetail"), "addressGeneral", p["address"]
                )
            if p["latitude"] is not None and p["longitude"] is not None:
                point = b.sub(loc, "PositionPoints")
                b.sub(point, "xPosition", p["longitude"])
                b.sub(point, "yPosition", p["latitude"])
        if p["record_status"] != "active":
            b.sub(b.sub(el, "status"), "value", p["record_status"])
    return root
