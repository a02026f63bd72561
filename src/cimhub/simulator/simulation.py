"""A fleet of simulated meters over time: the generator's profiles, through the fault
injector, to each meter's head-end — replaying a past period as fast as it can be sent, or
running on the clock (sped up if asked, never ahead of the real time)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from cimhub.simulator.faults import FaultPlan, GroundTruth
from cimhub.simulator.fleet import SimMeter
from cimhub.simulator.injector import Injector
from cimhub.simulator.profiles import Batch, ProfileGenerator, flatten


class HeadEnd(Protocol):
    generator: ProfileGenerator  # the meters' memory, which reads are answered from

    def send(self, batch: Batch) -> object: ...


class Simulation:
    """Meters, their head-ends by name (``SimMeter.hes``), a fault plan and its truth."""

    def __init__(
        self,
        meters: Sequence[SimMeter],
        head_ends: Mapping[str, HeadEnd],
        *,
        start: int,
        plan: FaultPlan | None = None,
        truth: GroundTruth | None = None,
        seed: int = 0,
        keep: bool = False,
    ) -> None:
        self.meters = list(meters)
        self.head_ends = dict(head_ends)
        self.plan = plan or FaultPlan(seed=seed)
        self.truth = truth or GroundTruth()
        self.generator = ProfileGenerator(
            self.meters, start, seed=seed, power_off=self.plan.power_off
        )
        self.injector = Injector(self.plan, self.truth, self.meters)
        self.clock = start
        self.sent = Batch() if keep else None  # everything handed to head-ends (tests)
        for head_end in self.head_ends.values():  # reads are answered from the same meters
            head_end.generator = self.generator

    def step(self, until: int) -> Batch:
        """Generate (clock, until], inject the faults, hand each head-end its meters' part."""
        if until <= self.clock:
            return Batch()
        meters = [m.serial for m in self.meters]
        self.plan.draw(meters, [m.number for m in self.meters], self.clock, until)
        batch = self.injector.apply(self.generator.advance(until), self.clock, until)
        self.clock = until
        self._send(batch)
        return batch

    def finish(self) -> Batch:
        """Send what is still held back (late data, a last duplicate)."""
        batch = self.injector.flush()
        self._send(batch)
        return batch

    def _send(self, batch: Batch) -> None:
        if self.sent is not None:
            self.sent = flatten([self.sent, batch])
        for name, head_end in self.head_ends.items():
            part = batch.of(name)
            if part:
                head_end.send(part)

    def replay(self, end: int, *, step: int = 86_400) -> None:
        """A past period (clock, end] as fast as it can be sent, ``step`` seconds a batch."""
        while self.clock < end:
            self.step(min(self.clock + step, end))
        self.finish()

    def run(
        self,
        stop: threading.Event,
        *,
        speed: float = 1.0,
        every: float = 60.0,
        end: int | None = None,
    ) -> None:
        """Simulated time runs ``speed`` times the real one from the start (capped at the real
        clock): every ``every`` seconds, what became due is sent; until ``stop`` or ``end``."""
        origin, wall0 = self.clock, time.time()
        while True:
            now = min(int(origin + (time.time() - wall0) * speed), int(time.time()))
            if end is not None:
                now = min(now, end)
            self.step(now)
            if (end is not None and self.clock >= end) or stop.wait(every):
                break
        self.finish()
