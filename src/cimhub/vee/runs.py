"""Small column helpers shared by rules and methods."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cimhub.vee.batch import Scope
from cimhub.vee.finding import Action, Finding, Severity


def runs(flags: Sequence[bool]) -> Iterator[tuple[int, int]]:
    """(first, last) index of every maximal run of True.

    >>> list(runs([False, True, True, False, True]))
    [(1, 2), (4, 4)]
    """
    start = None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            yield start, i - 1
            start = None
    if start is not None:
        yield start, len(flags) - 1


def equal_runs(
    values: Sequence[float | None], keep: Callable[[float], bool]
) -> Iterator[tuple[int, int]]:
    """(first, last) of every maximal run of equal values that ``keep`` accepts."""
    start = 0
    n = len(values)
    for i in range(1, n + 1):
        if i == n or values[i] != values[start]:
            v = values[start]
            if v is not None and keep(v):
                yield start, i - 1
            start = i


def found(
    scope: Scope,
    rule: str,
    severity: Severity,
    quality: str,
    timestamps: Sequence[int],
    description: str,
    action: Action = Action.NOTE,
    **data: Any,
) -> Finding:
    return Finding(
        rule,
        scope.batch.key,
        severity,
        quality,
        tuple(timestamps),
        description,
        action,
        data,
    )
