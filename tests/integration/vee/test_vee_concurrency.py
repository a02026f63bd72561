"""VEE of one meter's adjacent periods at once (two bus workers), and late readings.

Day 2 and day 3 of a meter reach two workers together. The day-3 run must not estimate
day 2 as a gap while day 2's measured readings are still being validated, nor may its
estimates stand where day 2 was measured (PostgreSQL: both interleavings forced with a
barrier). A day that arrives after its gap was estimated replaces the estimates with new
versions, "late reading" (both backends).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.handlers import reading_ingest
from cimhub.settings import Settings
from cimhub.store import vee as vee_store
from cimhub.store.validated import ApplyCounts, Row, ValidatedRepository
from cimhub.store.vee import VeeService
from cimhub.testing import vee_month as vm
from cimhub.testing.databases import postgres_database
from cimhub.testing.messages import created_meter_readings, meter_mrid, readings_message
from cimhub.testing.replies import ParsedReply

KWH = vm.KWH
IST = 330 * 60
STEP = 900
#: local midnight four days ago: days 1, 2, 3 all past the re-acquisition wait
START = (int(time.time()) + IST) // 86_400 * 86_400 - IST - 4 * 86_400


def day(n: int) -> dict[int, float]:
    """Day ``n`` (1-based) of meter M-1: its own profile, so an estimate never matches."""
    first = START + (n - 1) * 86_400
    return {first + STEP * (i + 1): round(0.2 * n + 0.01 * (i % 7), 3) for i in range(96)}


def send(hub: Hub, values: dict[int, float]) -> ParsedReply:
    answer = hub.pipeline.process(
        Inbound(readings_message("M-1", {KWH: values}), "discom-a", "test")
    )
    return ParsedReply.of(answer.body)


def ids(hub: Hub) -> tuple[int, int, int]:
    """Tenant, meter M-1 and reading type ids."""
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("discom-a")
        [meter] = uow.meters.find(tenant, [MeterRef("M-1")])
        return tenant, meter, uow.reading_types.find_ids([KWH])[KWH]


def trail(hub: Hub, ts: int) -> list[tuple[int, float, str, str]]:
    """Every version of M-1's reading at ts: (version, value, method, reason)."""
    tenant, meter, rt = ids(hub)
    with hub.database.unit_of_work(hub=True) as uow:
        versions = ValidatedRepository(uow).versions(tenant, meter, rt, ts)
    return [(v.version, v.value, v.method, v.reason) for v in versions]


def assert_measured(hub: Hub, values: dict[int, float]) -> None:
    """The validated layer holds exactly these measured values (raw as received)."""
    for ts, value in values.items():
        last = trail(hub, ts)[-1]
        assert (last[1], last[2]) == (value, "validated"), (ts, trail(hub, ts))


# -- late readings: both backends ------------------------------------------------------


@pytest.fixture
def vee_hub(database_url: str) -> Iterator[Hub]:
    hub = Hub.build(Settings(database_url=database_url, default_tenant="discom-a"))
    yield hub
    hub.close()


def test_a_late_day_replaces_the_estimates_of_its_gap_with_new_versions(vee_hub: Hub) -> None:
    assert send(vee_hub, day(1)).result == "OK"
    assert send(vee_hub, day(3)).result == "OK"  # day 2 is a gap past the wait: estimated
    first = min(day(2))
    [(version, _, method, _)] = trail(vee_hub, first)
    assert version == 1 and method.startswith("estimated:")
    assert send(vee_hub, day(2)).result == "OK"  # ... and then it arrives
    assert_measured(vee_hub, day(2))
    estimate, measured = trail(vee_hub, first)
    assert estimate[0] == 1 and estimate[2].startswith("estimated:")
    assert measured[0] == 2 and measured[3] == "late reading"
    assert_measured(vee_hub, day(3))  # day 3 itself untouched: one version each
    assert [len(trail(vee_hub, ts)) for ts in day(3)] == [1] * 96
    # a re-run finds the same again: nothing changes, the late reading keeps its reason
    tenant, meter, _ = ids(vee_hub)
    with vee_hub.database.unit_of_work(hub=True) as uow:
        end = max(day(3))
        run = VeeService().rerun(uow, tenant, "discom-a", [meter], START, end, now=int(time.time()))
    assert (run.stored.inserted, run.stored.changed, run.stored.unchanged) == (0, 0, 3 * 96)
    assert trail(vee_hub, first)[-1][3] == "late reading"


def test_an_estimate_of_a_gap_never_replaces_a_measured_value(vee_hub: Hub) -> None:
    """What a run that missed a reading (validating the next period as it was stored)
    would write: the measured value stands, no version is added."""
    assert send(vee_hub, day(1)).result == "OK"
    tenant, meter, rt = ids(vee_hub)
    ts = min(day(1))
    method, why = "estimated:linear_interpolation", "estimated after interval.missing"
    estimate = Row(meter, rt, ts, "interval", 9.9, "3.8.0 3.5.259", method, "interval.missing",
                   "", why, "v1")  # fmt: skip
    with vee_hub.database.unit_of_work(hub=True) as uow:
        counts = ValidatedRepository(uow).apply(tenant, [estimate], now=int(time.time()))
    assert counts == ApplyCounts(kept_measured=1)
    assert trail(vee_hub, ts) == [(1, day(1)[ts], "validated", "passed VEE")]


def test_a_late_day_of_many_meters_replaces_every_estimate_in_one_go(vee_hub: Hub) -> None:
    """Thousands of versions at once (PostgreSQL: set-based): each estimate kept as
    version 1, superseded when version 2 was made; a meter not in the late message and
    the days around the gap keep their single version; the layer as it stood before the
    late day still answers with the estimates."""
    meters, late_meters = range(1, 41), range(1, 31)
    first = datetime.fromtimestamp(START, UTC)
    for n, these in ((1, meters), (3, meters), (2, late_meters)):
        raw = created_meter_readings(list(these), first + timedelta(days=n - 1))
        answer = vee_hub.pipeline.process(Inbound(raw, "discom-a", "test"))
        assert ParsedReply.of(answer.body).result == "OK", answer.body[:300]
        if n == 3:
            before_late = int(time.time())
            time.sleep(1.1)  # the late day's versions are made a second later
    with vee_hub.database.unit_of_work(hub=True) as uow:
        rows = uow.session.execute(
            text(
                "SELECT m.mrid, v.ts, v.version, v.method, v.reason, v.created_at, "
                "o.version, o.method, o.superseded_at FROM validated_reading v "
                "JOIN meter m ON m.id = v.meter_id LEFT JOIN validated_reading_version o "
                "ON (o.tenant_id, o.meter_id, o.reading_type_id, o.ts) = "
                "(v.tenant_id, v.meter_id, v.reading_type_id, v.ts) "
                "WHERE v.kind = 'interval' AND v.ts > :start AND v.ts <= :end"
            ),
            {"start": START + 86_400, "end": START + 2 * 86_400},
        ).all()
    late = {meter_mrid(m) for m in late_meters}
    assert len(rows) == 40 * 96  # one row a reading: each key replaced once
    for mrid, _, version, method, reason, made, old_version, old_method, superseded in rows:
        if mrid in late:
            assert (version, method, reason) == (2, "validated", "late reading")
            assert old_version == 1 and old_method.startswith("estimated:")
            assert superseded == made > before_late
        else:
            assert version == 1 and method.startswith("estimated:") and old_version is None
    with vee_hub.database.unit_of_work(hub=True) as uow:
        versions = uow.session.execute(text("SELECT count(*) FROM validated_reading_version"))
        assert versions.scalar() == 30 * 96  # days 1 and 3 untouched
        tenant, meter, rt = ids_of(uow, meter_mrid(1))
        as_before = ValidatedRepository(uow).query(
            tenant, ReadingKind.INTERVAL, meter_ids=[meter], reading_type_ids=[rt],
            start=START + 86_400, end=START + 2 * 86_400, after=None, limit=1000,
            as_of=before_late,
        )  # fmt: skip
    [series] = as_before
    assert len(series.values) == 96
    assert all("3.8.0" in q.split() for q in series.qualities)


def ids_of(uow: Any, mrid: str) -> tuple[int, int, int]:
    tenant = uow.tenants.ensure("discom-a")
    [meter] = uow.meters.find(tenant, [MeterRef(mrid)])
    return tenant, meter, uow.reading_types.find_ids([KWH])[KWH]


# -- two workers at once: PostgreSQL ---------------------------------------------------


@pytest.fixture
def workers() -> Iterator[tuple[Hub, Hub]]:
    """Two hubs on one PostgreSQL database, as two bus workers are (a hub on its own
    would handle messages that arrive together as one group, in one transaction)."""
    with postgres_database() as url:
        hubs = [Hub.build(Settings(database_url=url, default_tenant="discom-a")) for _ in "ab"]
        yield hubs[0], hubs[1]
        for hub in hubs:
            hub.close()


Pause = Callable[[ValidatedRepository], None]


def _after_history(original: Callable[..., Any], pause: Pause) -> Callable[..., Any]:
    def wrapped(repo: ValidatedRepository, *args: Any, **kwargs: Any) -> Any:
        found = original(repo, *args, **kwargs)
        pause(repo)
        return found

    return wrapped


def _before(original: Callable[..., Any], pause: Pause) -> Callable[..., Any]:
    def wrapped(repo: ValidatedRepository, *args: Any, **kwargs: Any) -> Any:
        pause(repo)
        return original(repo, *args, **kwargs)

    return wrapped


#: where the stalled run stops: the day-2 run right before it inserts its measured rows
#: (the day-3 run then estimates day 2 and commits first), or the day-3 run right after
#: it read the history that lacks day 2 (the day-2 run then commits first)
INTERLEAVINGS = {
    "measured_run_stalls_before_its_insert": (2, "_insert", _before),
    "estimating_run_stalls_after_its_history": (3, "previous", _after_history),
}


@pytest.mark.postgres
@pytest.mark.parametrize("locks", [True, False], ids=["locked", "lock_bypassed"])
@pytest.mark.parametrize("interleaving", sorted(INTERLEAVINGS))
def test_two_workers_validating_adjacent_days_keep_every_measured_value(
    workers: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch, interleaving: str, locks: bool
) -> None:
    """Locked, the second run waits for the first: the outcome is that of one after the
    other (day 3 validated first estimates day 2, which then comes late). With the lock
    bypassed (a writer that takes none), the precedence rule alone still leaves every
    measured value standing: an estimate made meanwhile is superseded, late."""
    one, two = workers
    if not locks:
        for module in (reading_ingest, vee_store):
            monkeypatch.setattr(module, "lock_meters", lambda uow, meters: None)
    assert send(one, day(1)).result == "OK"
    stalled_day, method, wrap = INTERLEAVINGS[interleaving]
    other_day = 5 - stalled_day
    go = threading.Barrier(2, timeout=30)
    paused, other_done = threading.Event(), threading.Event()

    def pause(repo: ValidatedRepository) -> None:
        if repo._uow.session.get_bind().pool is not one.database.engine.pool or paused.is_set():
            return
        paused.set()  # once
        go.wait()  # the other worker starts now
        wait_until(lambda: other_done.is_set() or lock_waiters(two) > 0)

    original = getattr(ValidatedRepository, method)
    monkeypatch.setattr(ValidatedRepository, method, wrap(original, pause))

    def stalled() -> ParsedReply:  # on worker one: its handler pauses
        return send(one, day(stalled_day))

    def other() -> ParsedReply:
        go.wait()  # once the stalled run has paused
        try:
            return send(two, day(other_day))
        finally:
            other_done.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = [pool.submit(stalled), pool.submit(other)]
        results = [r.result(timeout=60).result for r in replies]
    assert results == ["OK", "OK"]
    assert_measured(two, {**day(2), **day(3)})
    versions = {n: {len(trail(two, ts)) for ts in day(n)} for n in (2, 3)}
    for n in (2, 3):
        for t in (trail(two, ts) for ts in day(n)):
            assert [v[3] for v in t] in (["passed VEE"], [t[0][3], "late reading"]), t
            assert len(t) == 1 or t[0][2].startswith("estimated:"), t
    if locks:  # as if one ran after the other: the first to take the lock validated first
        assert versions == {stalled_day: {1}, other_day: {1 if stalled_day == 2 else 2}}


def lock_waiters(hub: Hub) -> int:
    """How many sessions of the hub's database wait for a lock."""
    with hub.database.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def wait_until(condition: Callable[[], bool], within: float = 30.0) -> None:
    """Poll (bounded) until the condition holds: another worker finished or is blocked."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the other worker neither finished nor waited for a lock")
        time.sleep(0.01)
