"""Findings: what a rule saw, as data (rule id, severity, timestamps, data, quality code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    INFO = "info"  #: noted; the value stays valid
    WARNING = "warning"  #: the value is kept but marked suspect
    ERROR = "error"  #: the value failed: it is estimated where an estimate is possible


class Action(StrEnum):
    NOTE = "note"  #: record the finding, add its quality code, keep the value
    ESTIMATE = "estimate"  #: replace the value with an estimate


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One series: a meter and a ReadingType code."""

    meter_id: int
    reading_type: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict on one series.

    ``timestamps`` are the readings (interval ends) it concerns; ``data`` what the rule
    saw (JSON-able: numbers, strings, lists), so a person can check the verdict.
    """

    rule: str
    series: SeriesKey
    severity: Severity
    quality: str
    timestamps: tuple[int, ...]
    description: str
    action: Action = Action.NOTE
    data: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    @property
    def first(self) -> int:
        return self.timestamps[0]

    @property
    def last(self) -> int:
        return self.timestamps[-1]


class Review(StrEnum):
    """Where a person's review of a stored finding stands (exceptions work follows it)."""

    NEW = "new"  #: nobody looked at it yet
    ACKNOWLEDGED = "acknowledged"  #: seen, being worked on
    CLOSED = "closed"  #: dealt with (an edit, a service order, or judged harmless)


class ReviewRefused(ValueError):
    """A review move that makes no sense (to ``new``, or to the state it is in)."""


def review_move(current: Review, target: Review) -> Review:
    """``target`` if a finding in ``current`` may move there: any state but ``new``
    (a person cannot un-see a finding), never to the state it is already in; a closed
    finding may be acknowledged again (re-opened for work).

    >>> review_move(Review.NEW, Review.CLOSED)
    <Review.CLOSED: 'closed'>
    >>> review_move(Review.CLOSED, Review.ACKNOWLEDGED)
    <Review.ACKNOWLEDGED: 'acknowledged'>
    """
    if target is Review.NEW:
        raise ReviewRefused("a finding cannot be moved back to new")
    if target is current:
        raise ReviewRefused(f"the finding is already {current.value}")
    return target
