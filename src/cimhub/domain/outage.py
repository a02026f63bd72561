"""Outages of one meter from its power-off / power-on events (3.26.0.85 / 3.26.0.216).

Events may arrive late and out of order, so outages are always derived from all of a
meter's power events sorted by time; an outage without its restore stays open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cimhub.domain.event import POWER_OFF, POWER_ON

#: Below this an interruption is momentary (IEEE 1366 uses 5 minutes).
DEFAULT_MOMENTARY_SECONDS = 300


class OutageKind(StrEnum):
    MOMENTARY = "momentary"
    SUSTAINED = "sustained"
    OPEN = "open"  # no restore yet


@dataclass(frozen=True, slots=True)
class Outage:
    """Supply lost at ``start`` and, unless still open, restored at ``end``."""

    start: int
    end: int | None
    kind: OutageKind

    @property
    def duration(self) -> int | None:
        return None if self.end is None else self.end - self.start


def classify(start: int, end: int | None, momentary_seconds: int) -> OutageKind:
    """Momentary below the threshold, sustained from it on, open without a restore.

    >>> [k.value for k in (classify(0, 299, 300), classify(0, 300, 300), classify(0, None, 300))]
    ['momentary', 'sustained', 'open']
    """
    if end is None:
        return OutageKind.OPEN
    return OutageKind.MOMENTARY if end - start < momentary_seconds else OutageKind.SUSTAINED


def derive_outages(
    events: Iterable[tuple[int, str]], momentary_seconds: int = DEFAULT_MOMENTARY_SECONDS
) -> list[Outage]:
    """Pair (time, code) power events into outages, oldest first.

    A repeated power-off while one is open changes nothing (the first loss counts); a
    restore with no open outage (its power-off lost) makes none.

    >>> [(o.start, o.end, o.kind.value) for o in derive_outages(
    ...     [(600, POWER_ON), (0, POWER_OFF), (900, POWER_OFF)])]
    [(0, 600, 'sustained'), (900, None, 'open')]
    """
    outages: list[Outage] = []
    opened: int | None = None
    for ts, code in sorted(e for e in events if e[1] in (POWER_OFF, POWER_ON)):
        if code == POWER_OFF and opened is None:
            opened = ts
        elif code == POWER_ON and opened is not None:
            outages.append(Outage(opened, ts, classify(opened, ts, momentary_seconds)))
            opened = None
    if opened is not None:
        outages.append(Outage(opened, None, OutageKind.OPEN))
    return outages


def changed_spans(
    before: Iterable[Outage], after: Iterable[Outage]
) -> list[tuple[int, int | None]]:
    """The periods where two derivations of one meter's outages disagree: each outage
    found in only one of them, merged where they overlap (None: open to the future).

    >>> old = [Outage(0, 600, OutageKind.SUSTAINED)]
    >>> new = [Outage(0, 900, OutageKind.SUSTAINED), Outage(5000, None, OutageKind.OPEN)]
    >>> changed_spans(old, new)
    [(0, 900), (5000, None)]
    >>> changed_spans(new, new)
    []
    """
    return differing_spans({(o.start, o.end) for o in before}, {(o.start, o.end) for o in after})


def differing_spans(
    first: set[tuple[Any, ...]], second: set[tuple[Any, ...]]
) -> list[tuple[int, int | None]]:
    """The (start, end) spans of the items, each starting ``(start, end, …)``, found in
    only one of the two sets, merged where they overlap (end None: open to the future).

    >>> differing_spans({(0, 600, "a")}, {(0, 600, "b"), (900, None, "a")})
    [(0, 600), (900, None)]
    """
    spans: list[tuple[int, int | None]] = []
    for start, end, *_ in sorted(first ^ second, key=lambda s: s[0]):
        if spans and (spans[-1][1] is None or start <= spans[-1][1]):
            last_start, last_end = spans[-1]
            merged = None if end is None or last_end is None else max(end, last_end)
            spans[-1] = (last_start, merged)
        else:
            spans.append((start, end))
    return spans
