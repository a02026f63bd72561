"""Spans of time: what is left of one outside others, and how much of it they cover."""

from __future__ import annotations

import doctest

from cimhub.domain import span
from cimhub.domain.span import overlap, uncovered


def test_doctests() -> None:
    assert doctest.testmod(span).failed == 0


def test_spans_outside_touching_or_unsorted() -> None:
    assert uncovered(10, 20, []) == [(10, 20)]
    assert uncovered(10, 20, [(0, 10), (20, 30)]) == [(10, 20)]  # touching ends cover nothing
    assert uncovered(10, 20, [(15, 25), (5, 12)]) == [(12, 15)]
    assert uncovered(10, 20, [(0, 30)]) == []
    assert overlap((10, 20), [(12, 14), (13, 18)]) == 6
