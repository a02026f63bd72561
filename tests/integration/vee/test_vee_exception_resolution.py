"""Exceptions that VEE findings opened resolve themselves when a later VEE run clears every
finding they came from, on both backends: promptly (the VeeFindings announcement) or in
the sweep, with history and audit entry (actor cimhub); an exception that also counted a
meter event stays for a person; a finding found again later opens a new exception."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cimhub.store.audit import AuditLog
from cimhub.store.exceptions import EXCEPTION, ExceptionRepository
from cimhub.testing.events import Ev, created_end_device_events
from cimhub.testing.messages import KWH_15MIN as KWH
from cimhub.testing.messages import readings_message
from cimhub.testing.vee_days import at, day_of, iso
from cimhub.testing.vee_hub import TENANT, VeeHub, meter
from cimhub.testing.waiting import wait_until


@pytest.fixture
def swept(database_url: str, tmp_path: Path) -> Iterator[VeeHub]:
    """No relay: nothing is taken promptly, the sweep does it all. (The test days lie in
    the past: meters count as silent only after a year, so no communication service
    order suppresses the revenue-protection alerts.)"""
    hub = VeeHub.build(database_url, tmp_path, serve=False, communication_silence_hours=8760)
    yield hub
    hub.close()


def _day(meter_no: int, changes: dict[int, float], verb: str = "created", day: int = 0) -> bytes:
    """A day of SM<meter_no>'s 0.3 kWh intervals with ``changes``."""
    values = day_of(0.3, day) | changes
    return readings_message(meter(meter_no), {KWH: values}, verb=verb)


def _of_rule(vee: VeeHub, rule: str) -> list:
    return [e for e in vee.exceptions() if e.rule == rule]


def _history(vee: VeeHub, exception_id: int) -> list[dict]:
    tenant, _, _ = vee.ids()
    with vee.hub.database.unit_of_work(tenant) as uow:
        return ExceptionRepository(uow).history(tenant, EXCEPTION, exception_id)


def _audited(vee: VeeHub, exception_id: int) -> list[tuple[str, str, str]]:
    tenant, _, _ = vee.ids()
    with vee.hub.database.unit_of_work(tenant) as uow:
        entries = AuditLog(uow).entries(tenant=TENANT)
    return [(e.actor, e.action, e.after or "") for e in entries
            if e.object == f"exception:{exception_id}"]  # fmt: skip


def test_corrected_data_clears_the_finding_and_resolves_its_exception_at_once(
    vee: VeeHub,
) -> None:
    vee.send(_day(0, {at(0, 8): -0.4}))  # negative consumption: an exception rule watches it
    [opened] = wait_until(lambda: _of_rule(vee, "negative_consumption"))
    assert opened.status == "open"
    # the head-end sends the day again, corrected: no negative value left
    reply = vee.send(_day(0, {at(0, 8): 0.4}, verb="changed"))
    assert reply.result.value == "OK", reply.body
    assert vee.findings(0, "usage.negative") == []
    [resolved] = wait_until(
        lambda: [e for e in _of_rule(vee, "negative_consumption") if e.status == "resolved"]
    )
    assert resolved.id == opened.id
    last = _history(vee, opened.id)[-1]
    assert (last["status"], last["actor"]) == ("resolved", "cimhub")
    assert last["note"] == "every VEE finding it came from is cleared (1)"
    [(actor, action, after)] = _audited(vee, opened.id)
    assert (actor, action) == ("cimhub", "exception.move") and '"status":"resolved"' in after


def test_the_sweep_resolves_and_a_finding_found_again_opens_a_new_exception(
    swept: VeeHub,
) -> None:
    swept.send(_day(0, {at(0, 8): -0.4}))
    swept.hub.sweep_exceptions()
    [opened] = _of_rule(swept, "negative_consumption")
    swept.send(_day(0, {at(0, 8): 0.4}, verb="changed"))
    assert _of_rule(swept, "negative_consumption")[0].status == "open"  # until the sweep
    swept.hub.sweep_exceptions()
    [resolved] = _of_rule(swept, "negative_consumption")
    assert (resolved.id, resolved.status) == (opened.id, "resolved")
    # the negative value comes back (the first version was right after all): the same
    # finding is revived; its exception is resolved, so a new one opens
    swept.send(_day(0, {at(0, 8): -0.4}, verb="changed"))
    [finding] = swept.findings(0, "usage.negative")
    swept.hub.sweep_exceptions()
    again, old = _of_rule(swept, "negative_consumption")  # newest first
    assert (old.id, old.status) == (opened.id, "resolved")
    assert (again.status, again.occurrences, again.first_at) == ("open", 1, finding.last_ts)
    swept.hub.sweep_exceptions()  # taken once: nothing added
    assert _of_rule(swept, "negative_consumption")[0].occurrences == 1


def test_an_exception_that_also_counted_a_meter_event_stays_for_a_person(
    swept: VeeHub,
) -> None:
    # SM0 (2 kW sanctioned): 1.0 kWh in 15 minutes is 4 kW, above 1.5 × 2 kW — and the
    # meter reported its demand threshold exceeded: one load_limit exception, counted twice
    swept.send(_day(0, {at(0, 19): 1.0}))
    event = created_end_device_events([Ev(meter(0), iso(at(0, 19)), "3.8.261.139")])
    assert swept.send(event).result.value == "OK"
    swept.hub.sweep_exceptions()
    [limit] = _of_rule(swept, "load_limit")
    assert limit.occurrences == 2
    swept.send(_day(0, {at(0, 19): 0.3}, verb="changed"))  # the value was a misread
    assert swept.findings(0, "usage.sanctioned") == []
    swept.hub.sweep_exceptions()
    assert [(e.id, e.status) for e in _of_rule(swept, "load_limit")] == [(limit.id, "open")]


def test_an_exception_of_two_findings_resolves_only_when_both_are_cleared(
    swept: VeeHub,
) -> None:
    swept.send(_day(0, {at(-1, 8): -0.4}, day=-1))
    swept.send(_day(0, {at(0, 8): -0.2}))
    swept.hub.sweep_exceptions()
    [exception] = _of_rule(swept, "negative_consumption")
    assert exception.occurrences == 2
    swept.send(_day(0, {at(0, 8): 0.2}, verb="changed"))  # Wednesday corrected
    swept.hub.sweep_exceptions()
    assert _of_rule(swept, "negative_consumption")[0].status == "open"  # Tuesday's stands
    swept.send(_day(0, {at(0, 8): -0.2}, verb="changed"))  # ... and back: revived
    swept.hub.sweep_exceptions()  # still the same exception, counted once
    [same] = _of_rule(swept, "negative_consumption")
    assert (same.id, same.occurrences, same.status) == (exception.id, 2, "open")
    swept.send(_day(0, {at(0, 8): 0.2}, verb="changed"))
    swept.send(_day(0, {at(-1, 8): 0.4}, verb="changed", day=-1))
    swept.hub.sweep_exceptions()
    [done] = _of_rule(swept, "negative_consumption")
    assert (done.id, done.status) == (exception.id, "resolved")
    assert _history(swept, done.id)[-1]["note"] == "every VEE finding it came from is cleared (2)"
