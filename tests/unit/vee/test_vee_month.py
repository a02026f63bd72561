"""Done when: a month of 15-minute data for 1 000 meters with injected faults of every kind
goes through VEE; every fault is found, no false alarm, every gap is estimated (and a gap
inside an outage as zero).

Outages come from the head-end's power events (``Month.events``), derived as the store
derives them, and disconnections from the meters' RCD-switch events: two days of zeros
while the DISCOM had a meter switched off are a trap (no zero run, no low day), and a
meter that goes on consuming while disconnected is a fault (``usage.disconnected``).
Through the database (master data, outages from power events sent before and after the
readings, the audit trail: "who changed which value, when and why"), a slice of the month
with every fault kind is tested on both backends in
tests/integration/vee/test_vee_month_store.py.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict

import pytest

from cimhub.testing import vee_month as vm
from cimhub.vee import quality
from cimhub.vee.engine import validate

#: Findings allowed where no fault was injected (documented false alarms): none so far.
DOCUMENTED_FALSE_ALARMS: frozenset[str] = frozenset()


@pytest.mark.slow
def test_a_month_of_1000_meters_with_every_fault_kind(capsys: pytest.CaptureFixture[str]) -> None:
    data = vm.month(1_000)
    started = time.perf_counter()
    result = validate(data.batches, now=vm.NOW, contexts=data.contexts)
    seconds = time.perf_counter() - started

    by_meter = defaultdict(list)
    for fault in data.faults:
        by_meter[fault.meter_id].append(fault)
    found, forbidden, false_alarms = Counter(), Counter(), Counter()
    fired_on: dict[str, Counter[str]] = defaultdict(Counter)
    for f in result.findings:
        touched = [
            x
            for x in by_meter[f.series.meter_id]
            if f.first <= x.window[1] and f.last >= x.window[0]
        ]
        if not touched:
            false_alarms[f.rule] += 1
        for fault in touched:
            fired_on[fault.kind][f.rule] += 1
            if f.rule in vm.FORBIDDEN.get(fault.kind, ()):
                forbidden[fault.kind] += 1
    for fault in data.faults:
        if fault.expected & set(_rules_on(result.findings, fault)):
            found[fault.kind] += 1
    injected = Counter(f.kind for f in data.faults)
    missed = {
        k: injected[k] - found[k] for k in injected if vm.FAULTS[k] and injected[k] != found[k]
    }

    lines = [f"\nVEE month: {data.readings:,} readings of 1 000 meters in {seconds:.1f} s", ""]
    lines.append(f"{'fault':26} {'injected':>8} {'found':>6} {'missed':>6}  rules that fired on it")
    for kind in vm.FAULTS:
        rules = ", ".join(f"{r}×{n}" for r, n in sorted(fired_on[kind].items()))
        hit = f"{found[kind]:>6} {missed.get(kind, 0):>6}" if vm.FAULTS[kind] else "  trap      –"
        lines.append(f"{kind:26} {injected[kind]:>8} {hit}  {rules or '(nothing)'}")
    clean = 1_000 - len(data.faults)
    alarms = dict(false_alarms) or "none"
    lines.append(f"{'(clean meters)':26} {clean:>8}      –      –  false alarms: {alarms}")
    with capsys.disabled():
        print("\n".join(lines))

    assert not missed, missed
    assert not forbidden, forbidden
    assert set(false_alarms) <= DOCUMENTED_FALSE_ALARMS, false_alarms
    _every_gap_is_filled(result)
    _gaps_in_outages_are_zero(result, data)


def _rules_on(findings, fault) -> list[str]:
    return [
        f.rule
        for f in findings
        if f.series.meter_id == fault.meter_id
        and f.first <= fault.window[1]
        and f.last >= fault.window[0]
    ]


def _every_gap_is_filled(result) -> None:
    expected = (vm.END - vm.START) // vm.STEP
    for v in result.validated:
        if v.key.reading_type != vm.KWH:
            continue
        assert len(v) == expected, v.key
        for q, method in zip(v.qualities, v.methods, strict=True):
            assert method.startswith("estimated:") == quality.has(q, quality.ESTIMATED)


def _gaps_in_outages_are_zero(result, data) -> None:
    """Intervals never received during an outage are estimated as zero, nothing else."""
    sent = {b.key: set(b.timestamps) for b in data.batches if b.key.reading_type == vm.KWH}
    checked = 0
    for v in result.validated:
        outages = data.contexts[v.key.meter_id].outages
        if v.key.reading_type != vm.KWH or not outages:
            continue
        for ts, value, method in zip(v.timestamps, v.values, v.methods, strict=True):
            inside = any(a < ts and ts - vm.STEP < b for a, b in outages)
            if inside and ts not in sent[v.key]:
                assert (value, method) == (0.0, "estimated:outage_zero"), (v.key, ts)
                checked += 1
    assert checked  # the month has outages with lost intervals
