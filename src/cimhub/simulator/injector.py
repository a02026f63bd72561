"""Applies a fault plan to what the generator produced, step by step: drops, repeats,
multiplies, shifts and holds back rows, adds the plan's events, and records in the ground
truth every fault that took effect."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cimhub.simulator.faults import (
    POWER_FAILURE,
    POWER_RESTORED,
    Fault,
    FaultKind,
    FaultPlan,
    GroundTruth,
)
from cimhub.simulator.fleet import SimMeter
from cimhub.simulator.profiles import Batch, Billing, Block, DailyLoad, MeterEvent

Row = Block | DailyLoad | Billing | MeterEvent


def when(row: Row) -> int:
    return row.end if isinstance(row, Block) else row.at


def put(batch: Batch, row: Row) -> None:
    """Add a row to the list of its kind."""
    if isinstance(row, Block):
        batch.blocks.append(row)
    elif isinstance(row, DailyLoad):
        batch.daily.append(row)
    elif isinstance(row, Billing):
        batch.billing.append(row)
    else:
        batch.events.append(row)


class Injector:
    def __init__(self, plan: FaultPlan, truth: GroundTruth, meters: Sequence[SimMeter]) -> None:
        self.plan, self.truth = plan, truth
        self.meters = {m.serial: m for m in meters}
        self._held: list[tuple[int, Row]] = []  # (sent at, row): late data
        self._repeat: list[Row] = []  # duplicates, sent again with the next step

    def apply(self, batch: Batch, start: int, end: int) -> Batch:
        """What the head-ends send for the step (start, end] of simulated time."""
        out = Batch()
        due = [(at, row) for at, row in self._held if at <= end]  # older data first
        self._held = [(at, row) for at, row in self._held if at > end]
        for row in [*self._repeat, *(row for _at, row in sorted(due, key=lambda p: when(p[1])))]:
            put(out, row)
        self._repeat = []
        for block in batch.blocks:
            self._block(block, out)
        for row in [*batch.daily, *batch.billing, *batch.events]:
            self._row(row, out)
        for fault, event in self._events(start, end):
            if self._row(event, out):
                self.truth.record(fault)
        return out

    def flush(self) -> Batch:
        """Everything still held back or to be repeated (the run ends)."""
        out = Batch()
        for row in [*self._repeat, *(row for _at, row in self._held)]:
            put(out, row)
        self._repeat, self._held = [], []
        return out

    def _hit(self, kind: FaultKind, meter: str, ts: int) -> Fault | None:
        fault = self.plan.at(kind, meter, ts)
        if fault is not None:
            self.truth.record(fault)
        return fault

    def _block(self, block: Block, out: Batch) -> None:
        meter, ts = block.meter.serial, block.end
        if self._hit(FaultKind.SILENCE, meter, ts) or self._hit(FaultKind.MISSING, meter, ts):
            return
        outage = self.plan.outage_in(meter, ts - block.meter.interval, ts)
        if outage is not None and outage.detail.get("intervals") == "missing":
            return
        drawn = self.plan.interval_fault(meter, block.meter.number, ts)
        if drawn is not None:
            self.truth.record(drawn)
            if drawn.kind is FaultKind.MISSING:
                return
        spike = self._hit(FaultKind.SPIKE, meter, ts) or _of(drawn, FaultKind.SPIKE)
        if spike is not None:
            block = block.scaled(float(spike.detail["factor"]))
        if self._hit(FaultKind.DUPLICATE, meter, ts) or _of(drawn, FaultKind.DUPLICATE):
            self._repeat.append(self._drifted(block))
        self._row(block, out)

    def _row(self, row: Row, out: Batch) -> bool:
        """Send (or hold back) a row unless its meter is silent; whether it went."""
        meter, ts = row.meter.serial, when(row)
        if not isinstance(row, Block) and self._hit(FaultKind.SILENCE, meter, ts):
            return False
        row = self._drifted(row)
        late = None if isinstance(row, MeterEvent) else self._hit(FaultKind.LATE, meter, ts)
        if late is not None:
            self._held.append((late.end + int(late.detail["delay_seconds"]), row))
        else:
            put(out, row)
        return True

    def _drifted(self, row: Any) -> Any:
        """The row as a drifting meter clock stamps it."""
        drift = self._hit(FaultKind.CLOCK_DRIFT, row.meter.serial, when(row))
        if drift is None:
            return row
        offset = round(float(drift.detail["seconds_per_day"]) * (when(row) - drift.start) / 86_400)
        field = "end" if isinstance(row, Block) else "at"
        return replace(row, **{field: when(row) + offset})

    def _events(self, start: int, end: int) -> list[tuple[Fault, MeterEvent]]:
        """The plan's events in (start, end]: tamper bursts, power failure and restoration."""
        return [
            (fault, MeterEvent(self.meters[serial], at, code))
            for fault in self.plan.faults
            for serial, at, code in _event_times(fault)
            if start < at <= end and serial in self.meters
        ]


def _of(fault: Fault | None, kind: FaultKind) -> Fault | None:
    return fault if fault is not None and fault.kind is kind else None


def _event_times(fault: Fault) -> list[tuple[str, int, str]]:
    if fault.kind is FaultKind.TAMPER:
        every, (meter,) = int(fault.detail["every"]), fault.meters
        return [
            (meter, fault.start + 1 + n * every, c) for n, c in enumerate(fault.detail["codes"])
        ]
    if fault.kind is FaultKind.OUTAGE:
        return [(m, fault.start, POWER_FAILURE) for m in fault.meters] + [
            (m, fault.end, POWER_RESTORED) for m in fault.meters
        ]
    return []
