"""How a simulated head-end answers commands: shares that fail or never finish, meters it
refuses, and whether it acknowledges before the outcome."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Behaviour:
    """How the simulated head-end answers: shares of commands that fail or never finish."""

    fail_rate: float = 0.0
    silent_rate: float = 0.0  # accepted, then nothing: the hub's timeout must catch it
    refused_meters: frozenset[str] = frozenset()  # meters the head-end does not know (2.15)
    ack: bool = True  # report "queued" before the outcome (MQTT)
    seed: int = 61968
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def outcome(self) -> str | None:
        draw = self.rng.random()
        if draw < self.silent_rate:
            return None
        return "failed" if draw < self.silent_rate + self.fail_rate else "executed"
