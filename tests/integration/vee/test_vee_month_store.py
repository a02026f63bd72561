"""Done when, through the database on SQLite and PostgreSQL: a slice of the fault-injected
month with every fault kind goes through VEE as the MeterReadings handler runs it, with
everything VEE knows of the meters coming from the store — master data imported from the
billing system's CSV files, outages derived from the power events the head-end sent (one
meter's before its readings, another's after them), disconnections from the meters'
RCD-switch events (one meter's before its readings, another's after them). Every injected
fault is found (the confusion matrix is printed), no false alarm, estimates fill every
gap, a re-run changes nothing, and the audit trail answers who changed which value, when
and why.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.domain.reading import MeterRef
from cimhub.imports.csv_import import import_files
from cimhub.settings import Settings
from cimhub.store.audit import AuditLog
from cimhub.store.findings import FindingRepository, StoredFinding
from cimhub.store.validated import ValidatedReading, ValidatedRepository
from cimhub.store.vee import VeeService
from cimhub.testing import vee_month as vm
from cimhub.testing import vee_month_store as ms
from cimhub.testing.messages import readings_message
from cimhub.testing.replies import ParsedReply
from cimhub.vee import quality
from cimhub.vee.finding import SeriesKey

TENANT = "t1"
#: Findings allowed where no fault was injected (documented false alarms): none.
DOCUMENTED_FALSE_ALARMS: frozenset[str] = frozenset()


@pytest.fixture
def hub(database_url: str) -> Iterator[Hub]:
    # no relay: this test drives everything itself (the bus has its own tests)
    hub = Hub.build(Settings(database_url=database_url, default_tenant=TENANT), serve=False)
    yield hub
    hub.close()


def test_a_month_slice_through_the_store_finds_every_fault_and_the_audit_answers(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    numbers = vm.first_of_each_kind(extra=["zero_in_outage"])
    data = vm.month_of(numbers)
    early, late = [n for n in numbers if vm.fault_of(n) == "zero_in_outage"]
    [used] = [n for n in numbers if vm.fault_of(n) == "usage_disconnected"]
    [switched_off] = [n for n in numbers if vm.fault_of(n) == "disconnected_zeros"]
    assert all(
        r.applied
        for r in import_files(hub.database, TENANT, ms.master_data(tmp_path, data.contexts))
    )
    # the head-end's power events of one outage meter come first: HES-M reports them;
    # so do the RCD-switch events of a meter that went on consuming while disconnected
    first = ms.power_events(data, [early, used])
    answer = hub.pipeline.process(Inbound(first, TENANT, "test"))
    assert answer.result.value == "OK", answer.body
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure(TENANT)
        type_ids = uow.reading_types.ids_for({b.key.reading_type for b in data.batches})
        ids = uow.meters.find(tenant, [MeterRef(ms.name(n)) for n in numbers])
    meter_of = dict(zip(numbers, ids, strict=True))
    back = {v: k for k, v in meter_of.items()}
    batches = [
        replace(b, key=SeriesKey(meter_of[b.key.meter_id], b.key.reading_type))
        for b in data.batches
    ]
    started = time.perf_counter()
    with hub.database.unit_of_work(tenant) as uow:  # as the MeterReadings handler does
        ms.store_raw(uow, tenant, batches, type_ids)
        run = VeeService().run(uow, tenant, TENANT, batches, type_ids, now=vm.NOW)
    seconds = time.perf_counter() - started
    with hub.database.unit_of_work(tenant) as uow:
        [zero] = FindingRepository(uow).query(
            tenant, meter_ids=[meter_of[late]], rules=["usage.zero"]
        )
        # two days of zeros on a meter whose disconnection the hub has not heard of yet:
        # a zero run, and low days against its like days
        blind = FindingRepository(uow).query(tenant, meter_ids=[meter_of[switched_off]])
        assert {f.rule for f in blind} == {"usage.zero", "usage.history"}
        # ... then the other's power events come, and the disconnected meter's RCD
        # events: VEE judges both again
        for late_ones in ([late], [switched_off]):
            summary = ms.receive_events(
                uow, tenant, hub.settings, ms.power_events(data, late_ones), now=vm.NOW
            )
            assert "re-judged" in summary
    with hub.database.unit_of_work(tenant) as uow:
        stored = FindingRepository(uow).query(tenant, limit=100_000)
        cleared = FindingRepository(uow).query(tenant, limit=100_000, include_cleared=True)
    gone = sorted(f.id for f in cleared if f.cleared_at is not None)
    assert gone == sorted([zero.id, *(f.id for f in blind)])
    # ... and its last half hour, never sent, is estimated as nothing consumed
    outage_end = vm.START + 10 * 86_400 + 9 * 3600 + 19 * vm.STEP
    with hub.database.unit_of_work(tenant) as uow:
        repo = ValidatedRepository(uow)
        lost = [repo.versions(tenant, meter_of[late], type_ids[vm.KWH], ts)[-1]
                for ts in (outage_end - vm.STEP, outage_end)]  # fmt: skip
    assert [(v.value, v.method) for v in lost] == [(0.0, "estimated:outage_zero")] * 2

    matrix = _confusion(data, stored, back)
    with capsys.disabled():
        print(f"\nVEE month slice through the store: {len(numbers)} meters, "
              f"{run.readings:,} validated values in {seconds:.1f} s")  # fmt: skip
        print(matrix.table())
    assert not matrix.missed, matrix.missed
    assert not matrix.forbidden, matrix.forbidden
    assert set(matrix.false_alarms) <= DOCUMENTED_FALSE_ALARMS, matrix.false_alarms
    _every_gap_is_filled(hub, tenant, meter_of, type_ids)

    # a re-run from the store finds nothing new; only the duplicate's slot changes (raw
    # keeps one reading per key, so the re-run no longer sees the second copy)
    with hub.database.unit_of_work(tenant) as uow:
        again = VeeService().rerun(uow, tenant, TENANT, ids, vm.START, vm.END, now=vm.NOW)
    assert (again.stored.inserted, again.new_findings) == (0, 0)
    assert again.stored.changed == 1  # the one duplicate meter
    _the_audit_trail_answers(hub, tenant, meter_of, type_ids)


class _Matrix:
    """Injected faults against stored findings, per fault kind."""

    def __init__(self) -> None:
        self.injected: Counter[str] = Counter()
        self.found: Counter[str] = Counter()
        self.fired: dict[str, Counter[str]] = defaultdict(Counter)
        self.forbidden: Counter[str] = Counter()
        self.false_alarms: Counter[str] = Counter()
        self.clean = 0

    @property
    def missed(self) -> dict[str, int]:
        return {
            k: n - self.found[k]
            for k, n in self.injected.items()
            if vm.FAULTS[k] and n != self.found[k]
        }

    def table(self) -> str:
        lines = [f"{'fault':26} {'injected':>8} {'found':>6} {'missed':>6}  rules that fired on it"]
        for kind in vm.FAULTS:
            rules = ", ".join(f"{r}×{n}" for r, n in sorted(self.fired[kind].items()))
            hit = f"{self.found[kind]:>6} {self.injected[kind] - self.found[kind]:>6}"
            hit = hit if vm.FAULTS[kind] else "  trap      –"
            lines.append(f"{kind:26} {self.injected[kind]:>8} {hit}  {rules or '(nothing)'}")
        alarms = dict(self.false_alarms) or "none"
        lines.append(f"{'(clean meters)':26} {self.clean:>8}      –      –  false alarms: {alarms}")
        return "\n".join(lines)


def _confusion(data: vm.Month, stored: list[StoredFinding], back: dict[int, int]) -> _Matrix:
    matrix = _Matrix()
    matrix.clean = sum(vm.fault_of(n) is None for n in data.contexts)
    faults = {f.meter_id: f for f in data.faults}
    for fault in data.faults:
        matrix.injected[fault.kind] += 1
    hits: set[int] = set()
    for f in stored:
        fault = faults.get(back[f.meter_id])
        lo, hi = fault.window if fault else (0, -1)
        if fault is None or not (f.first_ts <= hi and f.last_ts >= lo):
            matrix.false_alarms[f.rule] += 1
            continue
        matrix.fired[fault.kind][f.rule] += 1
        if f.rule in vm.FORBIDDEN.get(fault.kind, ()):
            matrix.forbidden[fault.kind] += 1
        if f.rule in fault.expected and fault.meter_id not in hits:
            hits.add(fault.meter_id)
            matrix.found[fault.kind] += 1
    return matrix


def _every_gap_is_filled(
    hub: Hub, tenant: int, meter_of: dict[int, int], type_ids: dict[str, int]
) -> None:
    """Every 15-minute slot of the month has a validated value on every meter; exactly
    the estimated ones say so, in their quality and their method."""
    keys = [(m, type_ids[vm.KWH]) for m in meter_of.values()]
    with hub.database.unit_of_work(tenant) as uow:
        stored = ValidatedRepository(uow).intervals(tenant, keys, vm.START, vm.END)
        methods = _methods(uow, tenant, keys)
    expected = (vm.END - vm.START) // vm.STEP
    for key in keys:
        rows = stored[key]
        assert len(rows) == expected, key
        for ts, _, q in rows:
            assert methods[(*key, ts)].startswith("estimated:") == quality.has(q, quality.ESTIMATED)


def _methods(uow, tenant: int, keys: list[tuple[int, int]]) -> dict[tuple[int, int, int], str]:
    V = ValidatedReading
    rows = uow.session.execute(
        select(V.meter_id, V.reading_type_id, V.ts, V.method).where(
            V.tenant_id == tenant, V.meter_id.in_([m for m, _ in keys])
        )
    )
    return {(m, rt, ts): method for m, rt, ts, method in rows}


def _the_audit_trail_answers(
    hub: Hub, tenant: int, meter_of: dict[int, int], type_ids: dict[str, int]
) -> None:
    """For an estimated value and then an edit of it: who (VEE's rule, or the user), when,
    why, and with which configuration; the edit's entry in the hash-chained audit log."""
    [n] = [n for n in meter_of if vm.fault_of(n) == "gap_long"]
    meter, rt = meter_of[n], type_ids[vm.KWH]
    ts = vm.START + 9 * 86_400 + 12 * 3600  # noon of day 9, lost with the whole day
    with hub.database.unit_of_work(tenant) as uow:
        [estimate] = ValidatedRepository(uow).versions(tenant, meter, rt, ts)
    assert estimate.user_id == ""  # VEE itself, not a person
    assert estimate.method.startswith("estimated:like_day_avg_3")
    assert (estimate.rule, estimate.reason) == (
        "interval.missing",
        "estimated after interval.missing",
    )
    assert estimate.created_at == vm.NOW and estimate.quality.startswith(quality.ESTIMATED)
    # an operator corrects it over CIM (MeterReadings change: who in Header/User, why in Comment)
    change = readings_message(
        ms.name(n), {vm.KWH: {ts: 0.5}}, verb="change", user="op-7", comment="meter read on site"
    )
    before_edit = int(time.time())
    reply = ParsedReply.of(hub.pipeline.process(Inbound(change, TENANT, "test")).body)
    assert reply.result == "OK", reply.reasons
    with hub.database.unit_of_work(tenant) as uow:
        first, second = ValidatedRepository(uow).versions(tenant, meter, rt, ts)
        log = AuditLog(uow)
        [entry] = [e for e in log.entries(tenant=TENANT) if e.action == "MeterReadings.change"]
        assert log.verify() is None  # the chain is intact
    assert first == replace(estimate, superseded_at=second.created_at)
    assert (second.value, second.quality, second.method) == (0.5, "3.7.0", "edited")
    assert (second.user_id, second.reason) == ("op-7", "meter read on site")
    assert second.created_at >= before_edit
    assert entry.actor == "op-7" and entry.at >= before_edit
    assert '"reason":"meter read on site"' in (entry.after or "")
    assert f'[{meter},"{vm.KWH}",{ts},0.5]' in (entry.after or "")  # which value
