"""VEE findings as XML: the ``VeeFindings`` payload of the hub's VeeFindings events.

No IEC 61968-9 profile describes validation findings, so this shape is cimhub's own,
versioned in its namespace (``urn:cimhub:VeeFindings:1``; ``cim/xsd/outbound/VeeFindings.xsd``):

    <VeeFindings xmlns="urn:cimhub:VeeFindings:1" tenant="discom-a">
      <VeeFinding>
        <id>17</id> <status>open|cleared</status> <rule>usage.zero</rule>
        <severity>info|warning|error</severity> <action>note|estimate</action>
        <quality>3.6.1</quality>  (the IEC 61968-9 ReadingQuality code it set)
        <Meter><mRID>…</mRID><name>serial…</name></Meter> <readingType>0.0.2.4…</readingType>
        <firstTimeStamp/> <lastTimeStamp/> <readings>20</readings>
        <description/> <data>{…what the rule saw, JSON…}</data>
        <foundDateTime/> <clearedDateTime/>? <configVersion/>
      </VeeFinding>
    </VeeFindings>

``id`` is the finding's id in the hub (REST ``/api/v1/vee/findings/{id}``); a later
``changed`` event about the same finding carries the same id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree

from cimhub.domain.reading import MeterRef
from cimhub.mappings.timestamp import to_epoch, to_text

NS = "urn:cimhub:VeeFindings:1"
_TEXT = ("id", "status", "rule", "severity", "action", "quality")
_TIMES = (("first_ts", "firstTimeStamp"), ("last_ts", "lastTimeStamp"))


def _q(local: str) -> str:
    return f"{{{NS}}}{local}"


def write_vee_findings(
    tenant: str,
    findings: Sequence[Mapping[str, Any]],
    meters: Mapping[int, MeterRef],
    reading_types: Mapping[int, str],
) -> etree._Element:
    """The payload for findings as ``store.finding_events`` keeps them."""
    root = etree.Element(_q("VeeFindings"), nsmap={None: NS}, tenant=tenant)
    for f in findings:
        item = etree.SubElement(root, _q("VeeFinding"))
        for name in _TEXT:
            etree.SubElement(item, _q(name)).text = str(f[name])
        meter = meters[f["meter_id"]]
        element = etree.SubElement(item, _q("Meter"))
        if meter.mrid:
            etree.SubElement(element, _q("mRID")).text = meter.mrid
        for name in meter.names:
            etree.SubElement(element, _q("name")).text = name
        etree.SubElement(item, _q("readingType")).text = reading_types[f["reading_type_id"]]
        for key, local in _TIMES:
            etree.SubElement(item, _q(local)).text = to_text(f[key])
        etree.SubElement(item, _q("readings")).text = str(f["count"])
        etree.SubElement(item, _q("description")).text = f["description"]
        etree.SubElement(item, _q("data")).text = f["data"]
        etree.SubElement(item, _q("foundDateTime")).text = to_text(f["found_at"])
        if f.get("cleared_at") is not None:
            etree.SubElement(item, _q("clearedDateTime")).text = to_text(f["cleared_at"])
        etree.SubElement(item, _q("configVersion")).text = f["config_version"]
    return root


def read_vee_findings(payload: etree._Element) -> tuple[str, list[dict[str, Any]]]:
    """(tenant, findings) of a payload, each finding a dict of its elements (times as
    epoch seconds, ``data`` parsed, ``meter`` its mRID or first name): for subscribers
    written in Python and for our tests."""
    found = []
    for item in payload.iterfind(_q("VeeFinding")):
        f: dict[str, Any] = {name: item.findtext(_q(name)) for name in _TEXT}
        f["id"], f["readings"] = int(f["id"]), int(item.findtext(_q("readings")) or 0)
        f["meter"] = item.findtext(f"{_q('Meter')}/{_q('mRID')}") or item.findtext(
            f"{_q('Meter')}/{_q('name')}"
        )
        f["reading_type"] = item.findtext(_q("readingType"))
        for key, local in (*_TIMES, ("found_at", "foundDateTime")):
            f[key] = to_epoch(item.findtext(_q(local)) or "")
        cleared = item.findtext(_q("clearedDateTime"))
        f["cleared_at"] = to_epoch(cleared) if cleared else None
        f["description"] = item.findtext(_q("description"))
        f["data"] = json.loads(item.findtext(_q("data")) or "{}")
        f["config_version"] = item.findtext(_q("configVersion"))
        found.append(f)
    return payload.get("tenant", ""), found
