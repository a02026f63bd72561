"""Our own hub, as a real `cimhub serve` process, against every mdm case, over HTTP and SOAP,
on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cimhub.conformance.case import Role
from cimhub.conformance.runner import Status
from cimhub.testing.databases import sqlite_url

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("transport", ["http", "soap"])
def test_our_hub_passes_every_mdm_case(harness: Any, hub: str, transport: str) -> None:
    report = harness.run(Role.MDM, transport, hub)

    failures = harness.failed(report)
    unexpected = {k: v for k, v in failures.items() if k not in harness.known_hub_defects}
    assert not unexpected, "\n\n".join(f"{k}:\n{v}" for k, v in unexpected.items())
    assert set(failures) == harness.known_hub_defects, "a defect is fixed: update the list"
    passed = [r for r in report.results if r.status is Status.PASSED]
    assert len(passed) >= 50 and any("hostile" in r.case.tags for r in passed)


def test_unknown_meters_are_refused_when_auto_registration_is_off(
    harness: Any, database_url: str, tmp_path: Path
) -> None:
    with harness.serve_hub(database_url, tmp_path, CIMHUB_AUTO_REGISTER_METERS="false") as base:
        report = harness.run(
            Role.MDM, "http", base,
            patterns=("311-unknown-meter-refused",), sut_has=("unknown-meters-refused",),
        )  # fmt: skip

    assert [(r.case.slug, r.status) for r in report.results] == [
        ("311-unknown-meter-refused", Status.PASSED)
    ], harness.failed(report)


def test_soap_targets_may_be_the_services_wsdls(harness: Any, tmp_path: Path) -> None:
    services = ("ReceiveMeterReadings", "ExecuteMeterReadings", "GetMeterReadings", "CIMHub")
    with harness.serve_hub(sqlite_url(tmp_path), tmp_path) as base:
        wsdls = [f"{base}/soap/{service}?wsdl" for service in services]
        report = harness.run(
            Role.MDM, "soap", base, *wsdls,
            patterns=("*/MeterReadings/created/00[1-7]*", "*/MeterReadings/create/*",
                      "*/MeterReadings/get/00*", "302-unknown-namespace"),
        )  # fmt: skip

    assert report.passed, harness.failed(report)
    assert len(report.results) == 16
