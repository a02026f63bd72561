"""A finding VEE finds again with another verdict is brought up to date, on both backends:
a gap first only noted (younger than the re-acquisition wait) and later estimated, an
``outage`` flag that late power events changed. It keeps its id, first-seen time and
review, and subscribers hear of it as VeeFindings ``changed``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cimhub.store.findings import FindingRepository
from cimhub.store.subscriptions import Subscription
from cimhub.store.vee import VeeService
from cimhub.testing.messages import KWH_15MIN as KWH
from cimhub.testing.messages import readings_message
from cimhub.testing.receiver import Receiver
from cimhub.testing.vee_days import WEDNESDAY as D
from cimhub.testing.vee_days import at, day_of
from cimhub.testing.vee_hub import TENANT, VeeHub, finding_events, meter

LOST = (at(0, 10.25), at(0, 10.5))  # 10:15 and 10:30 never arrive


@pytest.fixture
def quiet(database_url: str, tmp_path: Path) -> Iterator[VeeHub]:
    """A hub that stores readings without judging them: the test runs VEE at chosen times."""
    hub = VeeHub.build(database_url, tmp_path, vee_enabled=False)
    yield hub
    hub.close()


def _subscribe(vee: VeeHub, receiver: Receiver) -> None:
    vee.hub.bus.put_subscription(  # type: ignore[union-attr]
        Subscription("all", "VeeFindings", ("created", "changed"), receiver.url)
    )


def test_a_gap_first_noted_then_estimated_keeps_its_id_and_review(
    quiet: VeeHub, receiver: Receiver
) -> None:
    _subscribe(quiet, receiver)
    morning = {ts: v for ts, v in day_of(0.3).items() if ts <= at(0, 11) and ts not in LOST}
    quiet.send(readings_message(meter(3), {KWH: morning}))
    tenant, _, [m3] = quiet.ids(3)
    # VEE at noon: the gap ended 90 minutes ago, within the 4-hour wait: only noted
    with quiet.hub.database.unit_of_work(tenant) as uow:
        VeeService().rerun(uow, tenant, TENANT, [m3], D, at(0, 11), now=at(0, 12))
    [noted] = quiet.findings(3, "interval.missing")
    assert (noted.first_ts, noted.last_ts, noted.severity) == (*LOST, "info")
    assert noted.description == "2 interval(s) missing (within the re-acquisition wait)"
    with quiet.hub.database.unit_of_work(tenant) as uow:
        FindingRepository(uow).review(tenant, noted.id, "acknowledged", by="ravi", note="", now=1)
    # VEE at 16:00: the wait is over, nothing came: the same finding, now an error, estimated
    with quiet.hub.database.unit_of_work(tenant) as uow:
        run = VeeService().rerun(uow, tenant, TENANT, [m3], D, at(0, 11), now=at(0, 16))
    assert run.new_findings == 0
    with quiet.hub.database.unit_of_work(tenant) as uow:
        due, _ = FindingRepository(uow).one(tenant, noted.id) or (None, [])
    assert due is not None and (due.found_at, due.severity) == (at(0, 12), "error")
    assert (due.description, due.review, due.reviewed_by) == (
        "2 interval(s) missing",
        "acknowledged",
        "ravi",
    )
    assert [f.id for f in quiet.findings(3, "interval.missing")] == [noted.id]
    assert quiet.current(3, list(LOST))[0][2] == "estimated:linear_interpolation"
    [(first, _, [created]), (second, _, [changed])] = finding_events(receiver.wait_for(2))
    assert (first, created["id"], created["severity"], created["action"]) == (
        "created",
        noted.id,
        "info",
        "note",
    )
    assert (second, changed["id"], changed["status"]) == ("changed", noted.id, "open")
    assert (changed["severity"], changed["action"]) == ("error", "estimate")
    # judging it again the same way changes nothing and says nothing; the readings
    # arriving at last clear it, and that is the next thing subscribers hear
    with quiet.hub.database.unit_of_work(tenant) as uow:
        VeeService().rerun(uow, tenant, TENANT, [m3], D, at(0, 11), now=at(0, 17))
    quiet.send(readings_message(meter(3), {KWH: {ts: 0.3 for ts in LOST}}))
    with quiet.hub.database.unit_of_work(tenant) as uow:
        VeeService().rerun(uow, tenant, TENANT, [m3], D, at(0, 11), now=at(0, 18))
    verb, _, [cleared] = finding_events(receiver.wait_for(3))[2]
    assert (verb, cleared["id"], cleared["status"]) == ("changed", noted.id, "cleared")


def test_late_power_events_update_the_outage_flag_of_a_gap(vee: VeeHub, receiver: Receiver) -> None:
    _subscribe(vee, receiver)
    vee.outage(0, at(-1, 9), at(-1, 10))  # HES-A reports power events
    values = {ts: v for ts, v in day_of(0.3).items() if ts not in LOST}
    vee.send(readings_message(meter(3), {KWH: values}))
    [gap] = vee.findings(3, "interval.missing")
    assert gap.data == {"intervals": 2, "outage": False}
    # the supply was off 10:00–10:30 after all: the same finding says so
    vee.outage(3, at(0, 10), at(0, 10.5))
    [again] = vee.findings(3, "interval.missing")
    assert (again.id, again.found_at, again.data) == (
        gap.id,
        gap.found_at,
        {"intervals": 2, "outage": True},
    )
    assert vee.current(3, list(LOST))[0][2] == "estimated:outage_zero"
    [_, (verb, _, [changed])] = finding_events(receiver.wait_for(2))
    assert (verb, changed["id"], changed["data"]) == (
        "changed",
        gap.id,
        {"intervals": 2, "outage": True},
    )
