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
    if not any(flags):  # the common case, decided in C
        return
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
    values: Sequence[float | None], keep: Callable[[float], bool], min_length: int = 1
) -> Iterator[tuple[int, int]]:
    """(first, last) of every maximal run of at least ``min_length`` equal values that
    ``keep`` accepts.

    >>> list(equal_runs([1, 1, 0, 0, 2, 2, 2], lambda v: v != 0, 2))
    [(0, 1), (4, 6)]
    """
    vals = list(values)
    if not vals:
        return
    # where a run ends (one comprehension, not a loop of Python statements per value)
    ends = [i for i, a, b in zip(range(1, len(vals)), vals[:-1], vals[1:], strict=True) if a != b]
    start = 0
    for end in (*ends, len(vals)):
        if end - start >= min_length:
            v = vals[start]
            if v is not None and keep(v):
                yield start, end - 1
        start = end


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
