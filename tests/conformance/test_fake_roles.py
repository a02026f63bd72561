"""The hes and subscriber roles against the fakes shipped with the suite."""

from __future__ import annotations

from typing import Any

import pytest

from cimhub.conformance.case import Role
from cimhub.conformance.fake_hes import FakeHes
from cimhub.conformance.fake_subscriber import FakeSubscriber
from cimhub.conformance.runner import Status


@pytest.mark.parametrize("transport", ["http", "soap"])
def test_the_fake_head_end_passes_every_hes_case(harness: Any, transport: str) -> None:
    hes = FakeHes()
    with hes.serve() as base:
        report = harness.run(Role.HES, transport, base)

    assert report.passed, harness.failed(report)
    assert {r.status for r in report.results} == {Status.PASSED}
    assert ("CONF-HES-0003", "3.31.0.18") in hes.commands  # the reconnect named by serial


@pytest.mark.parametrize("transport", ["http", "soap"])
def test_the_fake_subscriber_passes_every_subscriber_case(harness: Any, transport: str) -> None:
    subscriber = FakeSubscriber()
    with subscriber.serve() as base:
        report = harness.run(Role.SUBSCRIBER, transport, base)

    assert report.passed, harness.failed(report)
    nouns = {e.noun for e in subscriber.received}
    assert nouns == {"MeterReadings", "EndDeviceEvents"}


def test_a_hostile_case_fails_when_the_endpoint_stops_answering(harness: Any) -> None:
    class Fragile(FakeHes):
        """Answers, then falls over: every later message finds nobody."""

        def answer(self, path: str, raw: bytes) -> tuple[int, str, bytes]:
            if b"<!DOCTYPE" in raw:
                self.down = True
            if getattr(self, "down", False):
                raise ConnectionAbortedError("fallen over")
            return super().answer(path, raw)

    with Fragile().serve() as base:
        report = harness.run(Role.HES, "http", base, patterns=("901-hostile-xxe",))

    (result,) = report.results
    assert result.status is Status.FAILED
    assert "no longer answers" in result.problems[-1].text
