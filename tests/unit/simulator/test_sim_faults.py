"""Fault injection: each fault does what it says to what the head-ends receive, and the
ground truth lists exactly the faults that took effect."""

from __future__ import annotations

from datetime import UTC, datetime

from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.faults import FaultKind, FaultPlan, FaultRates, GroundTruth
from cimhub.simulator.fleet import numbered
from cimhub.simulator.profiles import Batch, ProfileGenerator, flatten
from cimhub.simulator.simulation import Simulation

START = int(datetime(2024, 6, 9, 18, 30, tzinfo=UTC).timestamp())  # 10 June 00:00 IST
H = 3600


class Collector:
    """A head-end that keeps what it is given, step by step."""

    def __init__(self) -> None:
        self.generator = ProfileGenerator([], START)
        self.steps: list[Batch] = []

    def send(self, batch: Batch) -> None:
        self.steps.append(batch)

    @property
    def all(self) -> Batch:
        return flatten(self.steps)


def simulate(
    plan: FaultPlan, hours: int = 6, meters: int = 2, step: int = H
) -> tuple[Collector, GroundTruth]:
    head_end, truth = Collector(), GroundTruth()
    sim = Simulation(numbered(meters), {"HES-SIM": head_end}, start=START, plan=plan, truth=truth)
    sim.replay(START + hours * H, step=step)
    return head_end, truth


def stamps(batch: Batch, serial: str) -> list[int]:
    return [b.end for b in batch.blocks if b.meter.serial == serial]


def test_without_faults_every_interval_arrives_once_and_the_truth_is_empty() -> None:
    head_end, truth = simulate(FaultPlan())
    assert stamps(head_end.all, "MH4500001") == [START + 900 * i for i in range(1, 25)]
    assert truth.faults == []


def test_missing_intervals_are_never_sent() -> None:
    plan = FaultPlan()
    fault = plan.missing("MH4500001", START + H, START + 2 * H)
    head_end, truth = simulate(plan)
    sent = stamps(head_end.all, "MH4500001")
    assert [t for t in range(START + 900, START + 6 * H + 1, 900) if t not in sent] == [
        START + H + 900 * i for i in range(1, 5)
    ]
    assert len(stamps(head_end.all, "MH4500002")) == 24
    assert truth.faults == [fault]


def test_a_duplicate_comes_again_with_the_next_message() -> None:
    plan = FaultPlan()
    at = START + 2 * H
    fault = plan.duplicate("MH4500001", at)
    head_end, truth = simulate(plan)
    assert stamps(head_end.steps[1], "MH4500001").count(at) == 1
    assert stamps(head_end.steps[2], "MH4500001").count(at) == 1
    assert truth.faults == [fault]


def test_a_spike_multiplies_one_interval() -> None:
    plan = FaultPlan()
    at = START + 3 * H
    plan.spike("MH4500001", at, factor=30)
    clean, _ = simulate(FaultPlan())
    spiked, truth = simulate(plan)
    value = {b.end: b.kwh_import for b in clean.all.blocks if b.meter.serial == "MH4500001"}
    got = {b.end: b.kwh_import for b in spiked.all.blocks if b.meter.serial == "MH4500001"}
    assert got[at] == round(value[at] * 30, 3)
    assert {t: v for t, v in got.items() if t != at} == {t: v for t, v in value.items() if t != at}
    assert [f.kind for f in truth.faults] == [FaultKind.SPIKE]


def test_late_data_is_sent_hours_after_it_was_due() -> None:
    plan = FaultPlan()
    plan.late("MH4500001", START, START + H, hours=3)
    head_end, truth = simulate(plan)
    first_hour = [START + 900 * i for i in range(1, 5)]
    assert [t for t in stamps(head_end.steps[0], "MH4500001") if t in first_hour] == []
    assert stamps(head_end.steps[3], "MH4500001")[:4] == first_hour  # released at START + 4 h
    assert [f.kind for f in truth.faults] == [FaultKind.LATE]


def test_a_drifting_clock_shifts_timestamps_more_each_day() -> None:
    plan = FaultPlan()
    plan.clock_drift("MH4500001", START, seconds_per_day=1440)  # a minute an hour
    head_end, _ = simulate(plan, hours=48, step=24 * H)
    sent = stamps(head_end.all, "MH4500001")
    assert sent[3] == START + H + 60 and sent[-1] == START + 48 * H + 2880


def test_a_tamper_burst_sends_its_events_seconds_apart() -> None:
    plan = FaultPlan()
    fault = plan.tamper_burst("MH4500002", START + 2 * H + 17)
    head_end, truth = simulate(plan)
    events = [(e.meter.serial, e.at - START - 2 * H, e.code) for e in head_end.all.events]
    assert events == [
        ("MH4500002", 17 + 5 * n, c) for n, c in enumerate(("251", "201", "51", "203", "65"))
    ]
    assert truth.faults == [fault]


def test_an_outage_on_a_group_of_meters_sends_power_events_and_zero_intervals() -> None:
    plan = FaultPlan()
    fault = plan.outage(["MH4500001", "MH4500002"], START + H, START + 2 * H + 600)
    head_end, truth = simulate(plan)
    events = sorted((e.at, e.code, e.meter.serial) for e in head_end.all.events)
    assert [(at - START, code) for at, code, _ in events] == [(H, "101")] * 2 + [
        (2 * H + 600, "102")
    ] * 2
    zero = [
        b.end - START
        for b in head_end.all.blocks
        if b.kwh_import == 0 and b.meter.serial == "MH4500001"
    ]
    assert zero == [H + 900 * i for i in range(1, 5)]  # the last interval is partly on
    assert truth.faults == [fault]


def test_an_outage_may_leave_its_intervals_missing() -> None:
    plan = FaultPlan()
    plan.outage(["MH4500001"], START + H, START + 2 * H, intervals="missing")
    head_end, _ = simulate(plan)
    assert [t for t in stamps(head_end.all, "MH4500001") if START + H < t <= START + 2 * H] == []


def test_a_silent_meter_sends_nothing_at_all() -> None:
    plan = FaultPlan()
    plan.silence("MH4500001", START + H, START + 4 * H)
    plan.tamper_burst("MH4500001", START + 2 * H)
    head_end, truth = simulate(plan)
    assert [t for t in stamps(head_end.all, "MH4500001") if START + H < t <= START + 4 * H] == []
    assert head_end.all.events == []
    assert [f.kind for f in truth.faults] == [FaultKind.SILENCE]


def test_random_interval_faults_are_recorded_one_for_one() -> None:
    def run() -> tuple[Collector, GroundTruth]:
        rates = FaultRates(missing=0.05, duplicate=0.03, spike=0.02)
        return simulate(FaultPlan(rates, seed=3), hours=48, meters=5, step=6 * H)

    head_end, truth = run()
    sent = [(b.meter.serial, b.end) for b in head_end.all.blocks]
    missing, repeated = truth.of(FaultKind.MISSING), truth.of(FaultKind.DUPLICATE)
    assert len(sent) == 5 * 192 - len(missing) + len(repeated)
    assert {(f.meters[0], f.end) for f in missing}.isdisjoint(sent)
    assert all(sent.count((f.meters[0], f.end)) == 2 for f in repeated)
    assert missing and repeated and truth.of(FaultKind.SPIKE)
    assert [f.plain() for f in run()[1].faults] == [f.plain() for f in truth.faults]  # seeded


def test_random_window_faults_come_at_their_rates_and_each_shows() -> None:
    rates = FaultRates(tamper=0.5, outage=0.5, silence=0.2, drift=0.5)
    head_end, truth = simulate(FaultPlan(rates, seed=5), hours=96, meters=10, step=6 * H)
    assert {FaultKind.TAMPER, FaultKind.OUTAGE, FaultKind.SILENCE, FaultKind.CLOCK_DRIFT} <= {
        f.kind for f in truth.faults
    }
    events = {(e.meter.serial, e.code) for e in head_end.all.events}
    for fault in truth.of(FaultKind.OUTAGE):
        assert {(fault.meters[0], "101"), (fault.meters[0], "102")} & events
    for fault in truth.of(FaultKind.TAMPER):
        assert (fault.meters[0], "251") in events
    drifting = {f.meters[0] for f in truth.of(FaultKind.CLOCK_DRIFT)}  # stamps moved
    assert {f.meters[0] for f in truth.of(FaultKind.SILENCE)} - drifting
    for fault in truth.of(FaultKind.SILENCE):
        (meter,) = fault.meters
        assert meter in drifting or not [
            t for t in stamps(head_end.all, meter) if fault.start < t <= fault.end
        ]


def test_command_failures_and_silences_are_in_the_truth() -> None:
    truth = GroundTruth()
    behaviour = Behaviour(fail_rate=0.3, silent_rate=0.2, truth=truth)
    outcomes = [behaviour.outcome(f"C-{n}", "M-1") for n in range(200)]
    failed = [f.detail["command"] for f in truth.of(FaultKind.COMMAND_FAILURE)]
    silent = [f.detail["command"] for f in truth.of(FaultKind.COMMAND_SILENCE)]
    assert failed == [f"C-{n}" for n, o in enumerate(outcomes) if o == "failed"]
    assert silent == [f"C-{n}" for n, o in enumerate(outcomes) if o is None]
    assert 30 < len(failed) < 90 and 15 < len(silent) < 65
