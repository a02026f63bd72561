"""The rules by id: each a pure function from a Scope to findings, citing its clause."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cimhub.domain.reading import ReadingKind
from cimhub.vee.batch import Batch, Scope
from cimhub.vee.finding import Finding

RuleFn = Callable[[Scope], list[Finding]]
Applies = Callable[[Batch], bool]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    check: RuleFn
    applies: Applies
    clause: str  #: the first line of the rule's docstring names the clause it implements


RULES: dict[str, Rule] = {}


def rule(rule_id: str, applies: Applies) -> Callable[[RuleFn], RuleFn]:
    """Register a rule under ``rule_id`` for the batches ``applies`` accepts."""

    def register(check: RuleFn) -> RuleFn:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id!r} registered twice")
        clause = (check.__doc__ or "").strip().splitlines()[0]
        RULES[rule_id] = Rule(rule_id, check, applies, clause)
        return check

    return register


# What a batch measures, from its ReadingType (61968-9 codes, reference/cim.md §3).
def interval_energy(batch: Batch) -> bool:
    rt = batch.reading_type
    return batch.kind is ReadingKind.INTERVAL and rt.accumulation == 4 and rt.interval_seconds > 0


def interval_demand(batch: Batch) -> bool:
    rt = batch.reading_type
    return batch.kind is ReadingKind.INTERVAL and rt.measurement_kind in (8, 37)


def any_interval(batch: Batch) -> bool:
    return batch.kind is ReadingKind.INTERVAL and batch.reading_type.interval_seconds > 0


def cumulative(batch: Batch) -> bool:
    """A CUM or TOU energy register (bulkQuantity/cumulative, energy)."""
    rt = batch.reading_type
    return (
        batch.kind is ReadingKind.REGISTER
        and rt.accumulation in (1, 3, 9)
        and rt.measurement_kind == 12
    )


def total_register(batch: Batch) -> bool:
    return cumulative(batch) and batch.reading_type.tou == 0


def tou_register(batch: Batch) -> bool:
    return cumulative(batch) and batch.reading_type.tou > 0


def demand_register(batch: Batch) -> bool:
    rt = batch.reading_type
    return batch.kind is ReadingKind.REGISTER and rt.measurement_kind == 8 and rt.aggregate == 8


def any_batch(batch: Batch) -> bool:
    return True


def kw_per_unit(batch: Batch) -> float:
    """Factor from the series' unit to kW / kWh (multiplier 3 → 1, 0 → 0.001)."""
    return 10.0 ** (batch.reading_type.multiplier - 3)


def load_rules() -> dict[str, Rule]:
    """Import every rule module (they register themselves) and return the registry."""
    from cimhub.vee.rules import demand, history, interval, meter, net, register, usage  # noqa: F401

    return RULES
