"""GetMeterConfig / GetUsagePointConfig requests → the keys of the objects asked for."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from cimhub.errors import InvalidQueryError
from cimhub.mappings.cim_object import ref, tag
from cimhub.message import ns
from cimhub.message.envelope import Envelope


@dataclass(frozen=True, slots=True)
class ConfigQuery:
    meters: list[str] = field(default_factory=list)
    usage_points: list[str] = field(default_factory=list)


def read_config_query(envelope: Envelope, noun: str) -> ConfigQuery:
    """Read Get<noun> from Request (or, leniently, from Payload)."""
    uri = ns.payload_ns(f"Get{noun}")
    q = tag(uri)
    query = _find(envelope, q(f"Get{noun}"))
    meters = [ref(el, q).key for local in ("Meter", "EndDevice") for el in query.iterfind(q(local))]
    points = [ref(el, q).key for el in query.iterfind(q("UsagePoint"))]
    result = ConfigQuery([m for m in meters if m], [p for p in points if p])
    if not result.meters and not result.usage_points:
        raise InvalidQueryError(f"Get{noun} names no Meter and no UsagePoint", xpath="Request")
    return result


def _find(envelope: Envelope, qname: str) -> etree._Element:
    for holder in (envelope.request, envelope.payload):
        if holder is None:
            continue
        if holder.tag == qname:
            return holder
        found = holder.find(qname)
        if found is not None:
            return found
    raise InvalidQueryError("no query object in Request", xpath="Request")
