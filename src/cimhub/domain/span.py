"""Spans of time — (start, end) in epoch seconds — and what is left of one outside others."""

from __future__ import annotations

from collections.abc import Sequence

Span = tuple[int, int]  #: (start, end) epoch seconds


def uncovered(start: int, end: int, spans: Sequence[Span]) -> list[Span]:
    """(start, end) less the spans, as the pieces left.

    >>> uncovered(0, 10, [(2, 4), (8, 20)])
    [(0, 2), (4, 8)]
    """
    pieces, at = [], start
    for a, b in sorted(spans):
        if b <= at or a >= end:
            continue
        if a > at:
            pieces.append((at, a))
        at = max(at, b)
    if at < end:
        pieces.append((at, end))
    return pieces


def overlap(span: Span, others: Sequence[Span]) -> int:
    """Seconds of ``span`` inside any of ``others`` (overlapping others count once).

    >>> overlap((0, 10), [(2, 4), (3, 6), (9, 12)])
    5
    """
    a, b = span
    return (b - a) - sum(y - x for x, y in uncovered(a, b, others))
