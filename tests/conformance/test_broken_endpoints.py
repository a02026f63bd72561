"""The suite can fail: deliberately broken endpoints fail exactly the cases they should."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cimhub.conformance.case import Role
from cimhub.conformance.fake import Breakage, BreakingProxy
from cimhub.conformance.fake_hes import FakeHes
from cimhub.conformance.fake_subscriber import FakeSubscriber
from cimhub.testing.databases import sqlite_url

#: In front of our hub: replies to `changed` say Verb `changed`; a CorrelationID the
#: request set is dropped from its reply; every 2.15 becomes a vendor's 2.32.
HUB_BREAKAGE = Breakage(
    wrong_verb_for=frozenset({"changed"}),
    drop_echoed_correlation=True,
    swap_codes={"2.15": "2.32"},
)
MUST_FAIL = {
    "mdm/MeterReadings/changed/001-head-end-corrects-interval": "Header/Verb is 'changed'",
    "mdm/MeterReadings/created/101-correlation-echoes-correlationid": "must echo",
    "mdm/MeterReadings/get/101-correlation-echoes-correlationid": "must echo",
    "mdm/MeterReadings/get/201-partial-one-unknown-meter": "Error codes ['2.32']",
    "mdm/MeterReadings/get/301-unknown-meter": "Error codes ['2.32']",
    "mdm/MeterConfig/get/301-unknown-meter": "Error codes ['2.32']",
    "mdm/UsagePointConfig/get/301-unknown-usage-point": "Error codes ['2.32']",
    "mdm/MasterDataLinkageConfig/create/301-unknown-usage-point": "Error codes ['2.32']",
    "mdm/EndDeviceControls/changed/301-unknown-command": "Header/Verb is 'changed'",
    "mdm/MeterConfig/changed/001-field-system-reports-installation": "Header/Verb is 'changed'",
    "mdm/UsagePointConfig/changed/001-cis-reports-load-change": "Header/Verb is 'changed'",
    "mdm/MeterConfig/create/101-correlation-echoes-correlationid": "must echo",
    "mdm/EndDeviceControls/cancel/301-unknown-command": "Error codes ['2.32']",
    "mdm/EndDeviceControls/create/201-partial-one-unknown-meter": "Error codes ['2.32']",
    "mdm/EndDeviceControls/create/301-unknown-meter": "Error codes ['2.32']",
    "mdm/EndDeviceControls/create/303-group-named-without-members": "Error codes ['2.32']",
    "mdm/EndDeviceControls/created/301-unknown-command": "Error codes ['2.32']",
    "mdm/EndDeviceControls/get/201-partial-one-unknown-command": "Error codes ['2.32']",
    "mdm/EndDeviceControls/get/301-unknown-command": "Error codes ['2.32']",
    "mdm/EndDeviceEvents/get/201-partial-one-unknown-meter": "Error codes ['2.32']",
    "mdm/EndDeviceEvents/get/301-unknown-meter": "Error codes ['2.32']",
    "mdm/MasterDataLinkageConfig/cancel/301-no-such-link": "Error codes ['2.32']",
    "mdm/MasterDataLinkageConfig/close/302-unknown-meter": "Error codes ['2.32']",
    "mdm/MasterDataLinkageConfig/create/305-unknown-meter": "Error codes ['2.32']",
    "mdm/MasterDataLinkageConfig/delete/301-unknown-usage-point": "Error codes ['2.32']",
    "mdm/MeterConfig/change/302-unknown-meter": "Error codes ['2.32']",
    "mdm/MeterConfig/close/302-unknown-meter": "Error codes ['2.32']",
    "mdm/MeterConfig/delete/301-unknown-meter": "Error codes ['2.32']",
    "mdm/MeterConfig/get/201-partial-one-unknown-meter": "Error codes ['2.32']",
    "mdm/UsagePointConfig/change/301-unknown-usage-point": "Error codes ['2.32']",
    "mdm/UsagePointConfig/close/302-unknown-usage-point": "Error codes ['2.32']",
    "mdm/UsagePointConfig/create/302-duplicate-consumer-number": "Error codes ['2.32']",
    "mdm/UsagePointConfig/create/303-unknown-transformer": "Error codes ['2.32']",
    "mdm/UsagePointConfig/delete/301-unknown-usage-point": "Error codes ['2.32']",
    "mdm/UsagePointConfig/get/201-partial-one-unknown-usage-point": "Error codes ['2.32']",
    "mdm/MasterDataLinkageConfig/changed/301-not-supported": "Header/Verb is 'changed'",
    "mdm/MasterDataLinkageConfig/close/301-no-open-link": "Error codes ['2.32']",
    "mdm/MeterConfig/cancel/001-entered-in-error": "Error codes ['2.32']",
    "mdm/MeterConfig/change/303-deleted-meter": "Error codes ['2.32']",
    "mdm/MeterConfig/delete/001-meter-deleted": "Error codes ['2.32']",
    "mdm/UsagePointConfig/delete/001-deleted-usage-point-cannot-change": "Error codes ['2.32']",
    "mdm/MeterServiceRequests/changed/001-wfm-reports-work-in-progress": "Header/Verb is 'changed'",
    "mdm/MeterServiceRequests/closed/301-unknown-order": "Error codes ['2.32']",
    "mdm/MeterServiceRequests/canceled/301-unknown-order": "Error codes ['2.32']",
}


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["http", "soap"])
def test_a_hub_with_wrong_verbs_lost_correlations_and_wrong_codes_fails_those_cases(
    harness: Any, tmp_path: Path, transport: str
) -> None:
    with (
        harness.serve_hub(sqlite_url(tmp_path), tmp_path) as base,
        BreakingProxy(base, HUB_BREAKAGE).serve() as broken,
    ):
        report = harness.run(Role.MDM, transport, broken)

    failures = harness.failed(report)
    assert set(failures) == set(MUST_FAIL) | harness.known_hub_defects, failures
    for case_id, reason in MUST_FAIL.items():
        assert reason in failures[case_id], failures[case_id]
    assert not report.passed


@pytest.mark.parametrize("transport", ["http", "soap"])
def test_a_head_end_answering_commands_with_the_wrong_verb_fails_them(
    harness: Any, transport: str
) -> None:
    fake = FakeHes(Breakage(wrong_verb_for=frozenset({"create"}), swap_codes={"2.15": "2.32"}))
    with fake.serve() as base:
        report = harness.run(Role.HES, transport, base)

    failures = harness.failed(report)
    assert set(failures) == {
        "hes/EndDeviceControls/create/001-remote-disconnect",
        "hes/EndDeviceControls/create/002-remote-reconnect-three-meters",
        "hes/EndDeviceControls/create/301-unknown-meter",
        "hes/EndDeviceControls/create/302-partial-one-unknown-meter",
        "hes/EndDeviceControls/create/303-schema-invalid",
        "hes/MeterReadings/get/301-unknown-meter",
    }, failures
    assert (
        "Header/Verb is 'create'" in failures["hes/EndDeviceControls/create/001-remote-disconnect"]
    )
    assert "['2.32']" in failures["hes/MeterReadings/get/301-unknown-meter"]


@pytest.mark.parametrize("transport", ["http", "soap"])
def test_a_subscriber_that_does_not_echo_the_message_id_fails_every_acknowledgement(
    harness: Any, transport: str
) -> None:
    class Forgetful(FakeSubscriber):
        """Acknowledges, but never says what it acknowledges (no CorrelationID)."""

        def answer(self, path: str, raw: bytes) -> tuple[int, str, bytes]:
            status, kind, body = super().answer(path, raw)
            return status, kind, _without_correlation(body)

    with Forgetful().serve() as base:
        report = harness.run(Role.SUBSCRIBER, transport, base)

    failures = harness.failed(report)
    assert set(failures) == {
        r.case.id for r in report.results if r.case.tags[0] in ("positive", "idempotency")
    }, failures
    assert all("must echo the request's MessageID" in text for text in failures.values())


def _without_correlation(body: bytes) -> bytes:
    start = body.find(b"<msg:CorrelationID>")
    end = body.find(b"</msg:CorrelationID>")
    if start < 0 or end < 0:
        return body
    return body[:start] + body[end + len(b"</msg:CorrelationID>") :]
