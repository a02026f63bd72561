"""The simulator's ground truth against the hub's VEE, on both backends: a day of three
meters' block load with a spike and a gap injected is validated on arrival, and the hub's
findings on the kWh channel are exactly those faults — no more, no fewer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from cimhub.app import Hub
from cimhub.simulator import cim_writer
from cimhub.simulator.faults import FaultKind, FaultPlan, GroundTruth
from cimhub.simulator.fleet import numbered
from cimhub.simulator.profiles import Batch
from cimhub.simulator.simulation import Simulation
from cimhub.store.findings import VeeFinding

T0 = 1_718_389_800  # 2024-06-15T00:00+05:30
H = 3600
KWH_15 = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"


class PipelineHes:
    """A CIM head-end handing its messages straight to the hub's pipeline."""

    def __init__(self, send: Callable[..., Any]) -> None:
        self.generator: Any = None
        self._send = send

    def send(self, batch: Batch) -> None:
        for body in cim_writer.meter_readings(batch, "HES-SIM"):
            assert self._send(body).result.value == "OK"


def findings(hub: Hub, rule: str) -> set[tuple[str, int, int, int]]:
    """(meter, first, last, count) of the hub's findings of ``rule`` on the 15-min kWh."""
    with hub.database.unit_of_work(hub=True) as uow:
        (type_id,) = uow.reading_types.ids_for([KWH_15]).values()
        rows = uow.session.execute(
            select(
                VeeFinding.meter_id, VeeFinding.first_ts, VeeFinding.last_ts, VeeFinding.count
            ).where(VeeFinding.rule == rule, VeeFinding.reading_type_id == type_id)
        ).all()
        tenant_id = uow.tenants.ensure("t1")
        names = uow.meters.describe(tenant_id, {r[0] for r in rows})
    return {(names[m].names[0], first, last, count) for m, first, last, count in rows}


def test_the_hub_finds_exactly_the_spikes_and_gaps_the_simulator_injected(
    hub: Hub, send: Callable[..., Any]
) -> None:
    plan, truth = FaultPlan(), GroundTruth()
    plan.spike("MH4500001", T0 + 10 * H, factor=25)
    plan.spike("MH4500003", T0 + 19 * H + 900, factor=30)
    plan.missing("MH4500002", T0 + 5 * H, T0 + 6 * H)
    plan.missing("MH4500003", T0 + 14 * H + 1800, T0 + 14 * H + 2700)
    sim = Simulation(numbered(3), {"HES-SIM": PipelineHes(send)}, start=T0, plan=plan,
                     truth=truth)  # fmt: skip
    sim.replay(T0 + 24 * H, step=6 * H)  # the gaps sit inside a message, not at its edge
    spikes = {(f.meters[0], f.end, f.end, 1) for f in truth.of(FaultKind.SPIKE)}
    gaps = {(f.meters[0], f.start + 900, f.end, (f.end - f.start) // 900)
            for f in truth.of(FaultKind.MISSING)}  # fmt: skip
    assert len(spikes) == 2 and len(gaps) == 2
    assert findings(hub, "usage.spike") == spikes
    assert findings(hub, "interval.missing") == gaps


def test_a_repeat_or_late_hour_sent_with_newer_blocks_leaves_no_false_gap(
    hub: Hub, send: Callable[..., Any]
) -> None:
    """A block sent again, or an hour held back, arrives with the next message's newer
    blocks: the ones the hub already holds between them are no gap (VEE takes the stored
    readings of the span); only the late hour itself was a gap while it was missing."""
    plan, truth = FaultPlan(), GroundTruth()
    plan.duplicate("MH4500001", T0 + 5 * H)  # mid-message: repeated with (6 h, 12 h]
    plan.late("MH4500002", T0 + 7 * H, T0 + 8 * H, hours=5)  # arrives with (12 h, 18 h]
    sim = Simulation(numbered(2), {"HES-SIM": PipelineHes(send)}, start=T0, plan=plan,
                     truth=truth)  # fmt: skip
    sim.replay(T0 + 24 * H, step=6 * H)
    assert {f.kind for f in truth.faults} == {FaultKind.DUPLICATE, FaultKind.LATE}
    late_hour = ("MH4500002", T0 + 7 * H + 900, T0 + 8 * H, 4)
    assert findings(hub, "interval.missing") == {late_hour}
    assert open_findings(hub, "interval.missing") == set()


def open_findings(hub: Hub, rule: str) -> set[int]:
    """Ids of the findings of ``rule`` not cleared."""
    standing = VeeFinding.rule == rule, VeeFinding.cleared_at.is_(None)
    with hub.database.unit_of_work(hub=True) as uow:
        return set(uow.session.scalars(select(VeeFinding.id).where(*standing)))
