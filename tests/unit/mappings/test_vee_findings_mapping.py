"""The VeeFindings payload: written as our XSD says, read back as written; the filter."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

from lxml import etree

from cimhub.domain.reading import MeterRef
from cimhub.mappings.vee_findings import NS, read_vee_findings, write_vee_findings
from cimhub.store import finding_events

XSD = Path(finding_events.__file__).parents[1] / "cim/xsd/outbound/VeeFindings.xsd"
KWH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"


def _finding(**changes: object) -> dict:
    base = {
        "id": 17, "meter_id": 3, "reading_type_id": 9, "rule": "usage.zero",
        "severity": "warning", "quality": "3.6.1", "action": "note", "first_ts": 1_717_400_700,
        "last_ts": 1_717_417_800, "count": 20, "description": "20 consecutive zero intervals",
        "data": json.dumps({"run": 20}), "config_version": "2026-11-22.1",
        "found_at": 1_717_500_000, "cleared_at": None, "status": "open",
    }  # fmt: skip
    return {**base, **changes}


def test_written_payload_is_valid_and_reads_back() -> None:
    findings = [_finding(), _finding(id=18, status="cleared", cleared_at=1_717_600_000)]
    meters = {3: MeterRef("m-3", ("SM0000003",))}
    payload = write_vee_findings("discom-a", findings, meters, {9: KWH})
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(payload)
    assert payload.tag == f"{{{NS}}}VeeFindings"
    tenant, [first, second] = read_vee_findings(payload)
    assert tenant == "discom-a"
    assert (first["id"], first["meter"], first["reading_type"], first["readings"]) == (
        17, "m-3", KWH, 20,
    )  # fmt: skip
    assert (first["first_ts"], first["last_ts"], first["data"]) == (
        1_717_400_700, 1_717_417_800, {"run": 20},
    )  # fmt: skip
    assert (first["status"], first["cleared_at"]) == ("open", None)
    assert (second["status"], second["cleared_at"]) == ("cleared", 1_717_600_000)


def test_the_subscription_filter_doctests() -> None:
    result = doctest.testmod(finding_events)
    assert result.failed == 0 and result.attempted > 0
