"""How a simulated head-end answers commands: shares that fail or never finish, meters it
refuses, whether it acknowledges first, and how long the meter takes (seconds drawn
uniformly from a range, as a relay over a mesh or cellular link does). Failures and
silences it decides are recorded in the ground truth."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cimhub.simulator.faults import Fault, FaultKind, GroundTruth


@dataclass
class Behaviour:
    """How the simulated head-end answers: shares of commands that fail or never finish."""

    fail_rate: float = 0.0
    silent_rate: float = 0.0  # accepted, then nothing: the hub's timeout must catch it
    refused_meters: frozenset[str] = frozenset()  # meters the head-end does not know (2.15)
    ack: bool = True  # report "queued" before the outcome (MQTT)
    ack_delay: tuple[float, float] = (0.0, 0.0)  # seconds before "accepted"
    outcome_delay: tuple[float, float] = (0.0, 0.0)  # seconds from accepted to the outcome
    seed: int = 61968
    truth: GroundTruth | None = None
    rng: random.Random = field(init=False)
    _pending: set[threading.Timer] = field(init=False, default_factory=set)
    _closed: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def outcome(self, command: str = "", meter: str = "") -> str | None:
        """executed, failed, or None (never answered); a failure or silence is recorded."""
        draw = self.rng.random()
        if draw < self.silent_rate:
            self._record(FaultKind.COMMAND_SILENCE, command, meter)
            return None
        if draw < self.silent_rate + self.fail_rate:
            self._record(FaultKind.COMMAND_FAILURE, command, meter)
            return "failed"
        return "executed"

    def _record(self, kind: FaultKind, command: str, meter: str) -> None:
        if self.truth is not None:
            now = int(time.time())
            self.truth.record(Fault(kind, (meter,), now - 1, now, {"command": command}))

    def delay(self, which: tuple[float, float]) -> float:
        low, high = which
        return low if high <= low else self.rng.uniform(low, high)

    def later(self, which: tuple[float, float], action: Callable[[], None]) -> None:
        """Run ``action`` after a delay drawn from ``which``, on a thread of its own; never
        once the head-end has stopped (``close``)."""
        if self._closed:
            return
        timer = threading.Timer(self.delay(which), self._run, args=(action,))
        timer.daemon = True
        self._pending.add(timer)
        timer.start()

    def _run(self, action: Callable[[], None]) -> None:
        self._pending.discard(threading.current_thread())  # type: ignore[arg-type]
        if self._closed:
            return
        try:
            action()
        except Exception:
            if not self._closed:  # stopped while answering: the connection is gone
                raise

    def open(self) -> None:
        """The head-end (re)starts answering."""
        self._closed = False

    def close(self) -> None:
        """The head-end stops: answers still waiting for their delay are never sent (a
        stopped head-end is silent, it does not fail on a closed connection)."""
        self._closed = True
        for timer in list(self._pending):
            timer.cancel()
        self._pending.clear()
