"""The registry of benchmark scenarios, and the figures they report.

A scenario measures one thing and contributes figures to rows of a results table,
keyed by what the row is about (backend, message size, query). Scenarios whose
component is not built yet stay in the registry with ``run=None``: they are listed as
"not built yet" in every report, and never faked. When the component lands, its
author gives the scenario a ``run`` function (see ``cimhub.bench.plan.default_scenarios``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cimhub.bench.context import Context


@dataclass(frozen=True, slots=True)
class Figure:
    """Figures measured for one row of one table, e.g. ("ingest", ("postgresql", "1×96"))."""

    table: str
    key: tuple[str, ...]
    values: dict[str, float]


Run = Callable[["Context"], list[Figure]]


class ScenarioUnavailable(Exception):
    """A built scenario that cannot run here (e.g. no broker): listed with the reason."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One measurement: its name, the component it exercises, and how to run it."""

    name: str
    component: str
    description: str
    run: Run | None = None  # None: the component is not built yet
    backends: tuple[str, ...] = ()  # empty: independent of the store


@dataclass(slots=True)
class Results:
    """Every figure of a run, merged per (table, key) in the order they were measured."""

    rows: dict[str, dict[tuple[str, ...], dict[str, float]]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (scenario, why)

    def add(self, figure: Figure) -> None:
        row = self.rows.setdefault(figure.table, {}).setdefault(figure.key, {})
        row.update(figure.values)

    def table(self, name: str) -> dict[tuple[str, ...], dict[str, float]]:
        return self.rows.get(name, {})

    def get(self, table: str, key: tuple[str, ...], figure: str) -> float | None:
        return self.rows.get(table, {}).get(key, {}).get(figure)
