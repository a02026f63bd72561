"""The simulator's CIM head-end against the suite's ``hes`` role: it knows the role's
meters (CONF-HES-0001…0003), answers their GetMeterReadings with the period's 15-minute
readings and passes every case, over HTTP, over SOAP by service name and through its WSDLs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from cimhub.conformance.case import Role
from cimhub.conformance.runner import Status
from cimhub.simulator.cim_head_end import HttpHes, free_port
from cimhub.simulator.fleet import SimMeter, consumer_of
from cimhub.simulator.profiles import ProfileGenerator

CONF_METERS = [
    SimMeter(n, f"CONF-HES-{n:04d}", f"CONF-HES-SN-{n:04d}", "HES-CONF", consumer_of(n))
    for n in (1, 2, 3)
]


@pytest.fixture
def head_end() -> Iterator[HttpHes]:
    """The role's meters and no others; its reports go to a hub that is not there."""
    generator = ProfileGenerator(CONF_METERS, int(time.time()))
    sim = HttpHes(f"http://127.0.0.1:{free_port()}", name="HES-CONF", generator=generator,
                  fleet_only=True).up()  # fmt: skip
    try:
        yield sim
    finally:
        sim.down()


@pytest.mark.parametrize("transport", ["http", "soap", "wsdl"])
def test_the_simulated_cim_head_end_passes_every_hes_case(
    harness: Any, head_end: HttpHes, transport: str
) -> None:
    base = f"http://127.0.0.1:{head_end.port}"
    targets = head_end.wsdl_urls.split() if transport == "wsdl" else []
    report = harness.run(Role.HES, "soap" if transport == "wsdl" else transport, base, *targets)

    assert report.passed, harness.failed(report)
    assert {r.status for r in report.results} == {Status.PASSED}
    reads = {r.case.id for r in report.results if "/MeterReadings/get/" in r.case.id}
    assert len(reads) == 4  # the read cases ran, and passed
    read = [(asked, meter) for asked, kind, meter in head_end.received if kind == "read"]
    assert [meter for _asked, meter in read] == ["CONF-HES-0001", "CONF-HES-SN-0002",
                                                 "CONF-HES-0003"]  # fmt: skip
    assert read[-1][0].endswith("-reread-003")  # by the CorrelationID it was asked with
