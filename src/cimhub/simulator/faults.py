"""Faults the simulator injects on request, and the ground truth of those it injected.

A plan holds faults asked for by name (``plan.outage(...)``) and draws more at random from
rates, window by window. Whatever takes effect is recorded once in the ground truth, so a
test can check the hub found exactly what was injected.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cimhub.simulator.load_shape import unit_noise

#: IS 15959 tamper occurrence IDs (india-metering.md §2): cover open, magnetic influence,
#: R-phase current reverse, neutral disturbance, CT bypass.
TAMPER_IDS = ("251", "201", "51", "203", "65")
POWER_FAILURE, POWER_RESTORED = "101", "102"


class FaultKind(StrEnum):
    MISSING = "missing"  # intervals never sent
    DUPLICATE = "duplicate"  # an interval sent again with the next message
    SPIKE = "spike"  # an interval's energy multiplied
    LATE = "late"  # intervals held back and sent hours later
    CLOCK_DRIFT = "clock_drift"  # timestamps shifted by an offset growing each day
    TAMPER = "tamper"  # a burst of tamper events
    OUTAGE = "outage"  # power off/on events, zero (or missing) intervals between
    SILENCE = "silence"  # the meter sends nothing at all for a while
    COMMAND_FAILURE = "command_failure"  # the head-end reports a command failed
    COMMAND_SILENCE = "command_silence"  # accepted, then never an outcome


_IDS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault: on these meters (serials), over (start, end]."""

    kind: FaultKind
    meters: tuple[str, ...]
    start: int
    end: int
    detail: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    id: int = field(default_factory=lambda: next(_IDS), compare=False)

    def plain(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "meters": list(self.meters), "start": self.start,
                "end": self.end, **self.detail}  # fmt: skip


class GroundTruth:
    """The faults that took effect, in order; each once. ``sink`` sees each as it happens
    (the CLI writes JSON lines)."""

    def __init__(self, sink: Callable[[Fault], None] | None = None) -> None:
        self.faults: list[Fault] = []
        self._seen: set[int] = set()
        self._lock = threading.Lock()
        self._sink = sink

    def record(self, fault: Fault) -> None:
        with self._lock:
            if fault.id in self._seen:
                return
            self._seen.add(fault.id)
            self.faults.append(fault)
        if self._sink is not None:
            self._sink(fault)

    def of(self, kind: FaultKind) -> list[Fault]:
        with self._lock:
            return [f for f in self.faults if f.kind is kind]

    def jsonl(self) -> str:
        with self._lock:
            return "".join(json.dumps(f.plain()) + "\n" for f in self.faults)


@dataclass(frozen=True)
class FaultRates:
    """Random faults: per interval (missing, duplicate, spike), per meter and day (tamper,
    outage, silence, late), per meter (drift)."""

    missing: float = 0.0
    duplicate: float = 0.0
    spike: float = 0.0
    spike_factor: float = 25.0
    late: float = 0.0
    late_hours: float = 3.0
    drift: float = 0.0
    drift_seconds_per_day: float = 90.0
    tamper: float = 0.0
    outage: float = 0.0
    outage_minutes: float = 45.0
    silence: float = 0.0
    silence_hours: float = 6.0


class FaultPlan:
    """Faults to inject: asked for by name, or drawn from ``rates``."""

    def __init__(self, rates: FaultRates | None = None, *, seed: int = 0) -> None:
        self.rates = rates or FaultRates()
        self.seed = seed
        self.faults: list[Fault] = []
        self._by_meter: dict[str, list[Fault]] = {}
        self._considered: set[str] = set()  # meters whose clock drift was drawn

    def add(
        self, kind: FaultKind, meters: Sequence[str], start: int, end: int, **detail: Any
    ) -> Fault:
        fault = self._make(kind, meters, start, end, **detail)
        self.faults.append(fault)
        for meter in fault.meters:
            self._by_meter.setdefault(meter, []).append(fault)
        return fault

    def _make(
        self, kind: FaultKind, meters: Sequence[str], start: int, end: int, **detail: Any
    ) -> Fault:
        return Fault(kind, tuple(meters), start, end, detail)

    # ---- asked for by name -------------------------------------------------------------

    def missing(self, meter: str, start: int, end: int) -> Fault:
        """Intervals ending in (start, end] are never sent."""
        return self.add(FaultKind.MISSING, [meter], start, end)

    def duplicate(self, meter: str, at: int) -> Fault:
        return self.add(FaultKind.DUPLICATE, [meter], at - 1, at)

    def spike(self, meter: str, at: int, factor: float = 25.0) -> Fault:
        return self.add(FaultKind.SPIKE, [meter], at - 1, at, factor=factor)

    def late(self, meter: str, start: int, end: int, hours: float = 3.0) -> Fault:
        return self.add(FaultKind.LATE, [meter], start, end, delay_seconds=int(hours * 3600))

    def clock_drift(
        self, meter: str, start: int, seconds_per_day: float, end: int = 2**62
    ) -> Fault:
        return self.add(FaultKind.CLOCK_DRIFT, [meter], start, end, seconds_per_day=seconds_per_day)

    def tamper_burst(
        self, meter: str, at: int, codes: Sequence[str] = TAMPER_IDS, every: int = 5
    ) -> Fault:
        """Tamper events ``every`` seconds apart from ``at`` (IS 15959 IDs)."""
        end = at + every * (len(codes) - 1)
        return self.add(FaultKind.TAMPER, [meter], at - 1, end, codes=list(codes), every=every)

    def outage(
        self, meters: Sequence[str], start: int, end: int, *, intervals: str = "zero"
    ) -> Fault:
        """No supply on these meters (a DT's, say) from ``start`` to ``end``: power-failure
        and restoration events, and intervals between ``zero`` or ``missing``."""
        return self.add(FaultKind.OUTAGE, meters, start, end, intervals=intervals)

    def silence(self, meter: str, start: int, end: int) -> Fault:
        return self.add(FaultKind.SILENCE, [meter], start, end)

    # ---- what is in effect -------------------------------------------------------------

    def at(self, kind: FaultKind, meter: str, ts: int) -> Fault | None:
        """The fault of ``kind`` on the meter at ``ts``, if any."""
        found = self._by_meter.get(meter, ())
        return next((f for f in found if f.kind is kind and f.start < ts <= f.end), None)

    def outage_in(self, meter: str, start: int, end: int) -> Fault | None:
        """An outage of the meter that meets (start, end]."""
        found = self._by_meter.get(meter, ())
        return next(
            (f for f in found if f.kind is FaultKind.OUTAGE and f.start < end and f.end > start),
            None,
        )

    def power_off(self, meter: str, start: int, end: int) -> int:
        """Seconds of (start, end] the meter had no supply."""
        return sum(
            max(0, min(end, f.end) - max(start, f.start))
            for f in self._by_meter.get(meter, ())
            if f.kind is FaultKind.OUTAGE
        )

    # ---- drawn at random ---------------------------------------------------------------

    def draw(self, meters: Sequence[str], numbers: Sequence[int], start: int, end: int) -> None:
        """Random window faults for (start, end], from the rates (deterministic per seed)."""
        days, r = (end - start) / 86_400, self.rates
        for serial, n in zip(meters, numbers, strict=True):
            if serial not in self._considered:
                self._considered.add(serial)
                if r.drift and unit_noise(self.seed, n, 11) < r.drift:
                    self.clock_drift(serial, start, r.drift_seconds_per_day)
            for k, (rate, make) in enumerate(self._window_kinds(serial)):
                if rate and unit_noise(self.seed, n, start, 20 + k) < rate * days:
                    at = start + int((end - start) * unit_noise(self.seed, n, start, 30 + k))
                    make(at)

    def _window_kinds(self, serial: str) -> list[tuple[float, Callable[[int], Any]]]:
        r = self.rates
        return [
            (r.tamper, lambda at: self.tamper_burst(serial, at)),
            (r.outage, lambda at: self.outage([serial], at, at + int(r.outage_minutes * 60))),
            (r.silence, lambda at: self.silence(serial, at, at + int(r.silence_hours * 3600))),
            (r.late, lambda at: self.late(serial, at, at + 3600, r.late_hours)),
        ]

    def interval_fault(self, meter: str, number: int, ts: int) -> Fault | None:
        """A random per-interval fault (missing, duplicate or spike) on this block, if drawn
        (applied at once, so not kept in the plan)."""
        r = self.rates
        u = unit_noise(self.seed, number, ts, 40)
        if u < r.missing:
            return self._make(FaultKind.MISSING, [meter], ts - 1, ts)
        if u < r.missing + r.duplicate:
            return self._make(FaultKind.DUPLICATE, [meter], ts - 1, ts)
        if u < r.missing + r.duplicate + r.spike:
            return self._make(FaultKind.SPIKE, [meter], ts - 1, ts, factor=r.spike_factor)
        return None
