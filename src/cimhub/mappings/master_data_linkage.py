"""MasterDataLinkageConfig payloads → LinkSpecs (meter ↔ usage point, effective-dated).

The ConfigurationEvent says when (effectiveDateTime), who (modifiedBy) and why (reason).
Typed ``Names`` on it carry what the profile has no attribute for: MeterRole (main,
check, generation), and for a replacement in one message ReplacedMeter (the meter that
leaves), FinalReading (its last cumulative kWh) and InitialReading (the new meter's first).
"""

from __future__ import annotations

import time

from lxml import etree

from cimhub.domain.installation import KWH_REGISTER, LinkSpec, parse_role
from cimhub.errors import InvalidValueError, PayloadError
from cimhub.mappings.cim_object import Ref, config_event, number, ref, tag
from cimhub.mappings.usage_point_config import CONSUMER_NUMBER_KINDS
from cimhub.message import ns

MDL = ns.payload_ns("MasterDataLinkageConfig")
q = tag(MDL)


def read_linkage(payload: etree._Element | None) -> list[LinkSpec]:
    if payload is None or payload.tag != q("MasterDataLinkageConfig"):
        raise PayloadError("the message carries no MasterDataLinkageConfig payload")
    event = config_event(payload.find(q("ConfigurationEvent")), q)
    meters = [ref(el, q) for local in ("Meter", "EndDevice") for el in payload.iterfind(q(local))]
    points = [ref(el, q) for el in payload.iterfind(q("UsagePoint"))]
    if not meters or not points:
        raise PayloadError("a linkage needs a Meter (or EndDevice) and a UsagePoint")
    if len(points) not in (1, len(meters)):
        raise PayloadError("give one UsagePoint, or one per Meter")
    names = event.names
    replaced = names.get("replacedmeter")
    final = number(names.get("finalreading"), "FinalReading")
    return [
        LinkSpec(
            meter=_key(meter, "Meter"),
            at=event.effective if event.effective is not None else int(time.time()),
            usage_point=_up_key(points[0] if len(points) == 1 else points[i]),
            role=parse_role(names.get("meterrole")),
            by=event.by,
            reason=event.reason,
            replaces=replaced is not None or final is not None,
            replaced_meter=replaced,
            final_read=final,
            initial_read=number(names.get("initialreading"), "InitialReading"),
            reading_type=names.get("readingtype") or KWH_REGISTER,
        )
        for i, meter in enumerate(meters)
    ]


def _key(r: Ref, what: str) -> str:
    if r.key is None:
        raise InvalidValueError(
            f"a {what} reference names nothing", xpath=f"MasterDataLinkageConfig/{what}"
        )
    return r.key


def _up_key(r: Ref) -> str:
    """The mRID, else the consumer number among the names, else any name."""
    return (
        r.mrid
        or next((r.names[k] for k in CONSUMER_NUMBER_KINDS if k in r.names), None)
        or _key(r, "UsagePoint")
    )
