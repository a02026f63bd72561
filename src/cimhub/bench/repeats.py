"""Repeated runs: a throughput figure is the median of several, not one draw.

On a shared virtual machine one run of a few seconds can be a third slower than the
next (seen here: the same 100×96 ingest at 39.5 k and 68.7 k readings/s, minutes
apart), enough to flip a target's verdict. A scenario therefore measures each case
``Plan.repeats`` times on fresh databases, the cases interleaved so that a slow stretch
of the machine falls on different cases' runs rather than on all of one case's, and
reports the median run with the lowest and highest beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import TypeVar

Case = TypeVar("Case", bound=Hashable)
Run = TypeVar("Run")


def interleaved(cases: Iterable[Case], repeats: int) -> Iterator[Case]:
    """Every case once, then every case again, ``repeats`` times over.

    >>> list(interleaved(["a", "b"], 3))
    ['a', 'b', 'a', 'b', 'a', 'b']
    """
    once = list(cases)
    for _ in range(repeats):
        yield from once


def run_all(
    cases: Iterable[Case], repeats: int, one: Callable[[Case, str], Run]
) -> dict[Case, list[Run]]:
    """Each case's runs, ``repeats`` of them, made interleaved: ``one(case, label)`` makes
    one run, ``label`` saying which of the repeats it is (for the progress bar; empty for
    a single run).

    >>> run_all(["a", "b"], 2, lambda case, label: f"{case} {label}")
    {'a': ['a run 1/2', 'a run 2/2'], 'b': ['b run 1/2', 'b run 2/2']}
    """
    runs: dict[Case, list[Run]] = {}
    for case in interleaved(cases, repeats):
        done = runs.setdefault(case, [])
        done.append(one(case, f"run {len(done) + 1}/{repeats}" if repeats > 1 else ""))
    return runs


def median(runs: Sequence[Run], rate: Callable[[Run], float]) -> Run:
    """The run whose rate is the median: the middle one, or for an even number of runs the
    slower of the middle two (a real run, so that its other figures — stages, CPU share —
    belong with its rate).

    >>> median([3.0, 1.0, 2.0], float), median([4.0, 1.0], float)
    (2.0, 1.0)
    """
    if not runs:
        raise ValueError("no runs")
    ordered = sorted(runs, key=rate)
    return ordered[(len(ordered) - 1) // 2]


def spread(name: str, rates: Sequence[float]) -> dict[str, float]:
    """The lowest and highest of several runs' rates, as figures beside ``name``'s
    median; nothing for a single run.

    >>> spread("e2e", [3.0, 1.0, 2.0])
    {'e2e_low': 1.0, 'e2e_high': 3.0, 'e2e_runs': 3}
    >>> spread("e2e", [3.0])
    {}
    """
    if len(rates) < 2:
        return {}
    return {f"{name}_low": min(rates), f"{name}_high": max(rates), f"{name}_runs": len(rates)}
