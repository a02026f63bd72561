"""Reads the hub asks of head-ends, as pure rules: on-demand reads for queries on stale
data (use cases 12.4, 21) and re-reads of missed intervals (use case 6) and of meters
that stopped reporting.

Periods are (start, end] in UTC epoch seconds, like a query's: interval readings are
stamped at the end of their interval, so a period holds the readings stamped after
``start`` up to ``end``. A meter keeps its load profile for a limited time (IS 15959
block load: ~45 days of 15-minute blocks); nothing older is asked of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

DAY = 86_400
#: A read answers for a period's end when it brings a reading this close to it (at least
#: one 15-minute block; an interval series' own length when longer).
MIN_SLACK = 900


@dataclass(frozen=True, slots=True)
class Period:
    """(start, end] in epoch seconds.

    >>> Period(0, 3600).covers(Period(900, 3000))
    True
    >>> Period(900, 3600).covers(Period(0, 3600))
    False
    """

    start: int
    end: int

    def covers(self, other: Period, slack: int = 0) -> bool:
        """Whether this period holds ``other``, its end up to ``slack`` seconds short."""
        return self.start <= other.start and self.end >= other.end - slack

    def filled_by(self, stamps: Iterable[int], step: int) -> bool:
        """Whether readings stamped ``stamps`` (interval length ``step``, 0 for registers)
        reach this period's end: one of them lies within a block of it.

        >>> Period(0, 3600).filled_by([2700, 3600], 900), Period(0, 3600).filled_by([900], 900)
        (True, False)
        """
        slack = max(step, MIN_SLACK)
        return any(self.end - slack < ts <= self.end + slack for ts in stamps)


@dataclass(frozen=True, slots=True)
class ReadPolicy:
    """When a query's meter is read on demand (settings, in seconds)."""

    stale_after: int  #: newest reading older than this: stale (0: only when asked)
    memory: int = 45 * DAY  #: how far back a meter still holds its load profile

    @property
    def slack(self) -> int:
        """How much newer than an open read's end a query may want and still share it."""
        return max(self.stale_after, MIN_SLACK)


def on_demand_period(
    policy: ReadPolicy,
    *,
    latest: int | None,
    start: int | None,
    end: int | None,
    now: int,
    asked: bool | None,
) -> Period | None:
    """The period to read from a meter for a query over (start, end], or None.

    ``latest`` is the meter's newest stored reading; ``asked`` the query's Option
    onDemand: True reads the query's period (or what is newer than ``latest``), False
    never reads, None reads only what is missing when the data is stale.

    >>> p = ReadPolicy(stale_after=3600)
    >>> on_demand_period(p, latest=10_000, start=None, end=None, now=20_000, asked=None)
    Period(start=10000, end=20000)
    >>> on_demand_period(p, latest=19_000, start=None, end=None, now=20_000, asked=None) is None
    True
    """
    if asked is False:
        return None
    until = min(end if end is not None else now, now)
    oldest = now - policy.memory
    if until <= oldest or (start is not None and until <= start):
        return None
    if asked is None:
        if policy.stale_after <= 0 or (latest is not None and latest > until - policy.stale_after):
            return None
        known = [t for t in (latest, start) if t is not None]
        begin = max(known) if known else until - DAY
    else:
        begin = start if start is not None else latest if latest is not None else until - DAY
    begin = max(begin, oldest)
    return Period(begin, until) if begin < until else None


def gap_period(first_ts: int, last_ts: int, step: int) -> Period:
    """The period of a gap whose missing intervals end at ``first_ts`` … ``last_ts``.

    >>> gap_period(1800, 3600, 900)
    Period(start=900, end=3600)
    """
    return Period(first_ts - step, last_ts)


def silent_period(newest: int, step: int, now: int, *, wait: int, memory: int) -> Period | None:
    """What to ask of a meter that has sent nothing since its newest interval reading
    ``newest`` (interval length ``step``): (newest, now rounded down to the interval] —
    when that reading is older than the re-acquisition ``wait`` and younger than the
    meter's ``memory``; None otherwise.

    >>> silent_period(3600, 900, 20_000, wait=3600, memory=86_400)
    Period(start=3600, end=19800)
    >>> [silent_period(t, 900, 20_000, wait=3600, memory=10_000) for t in (18_000, 9_000)]
    [None, None]
    """
    if newest > now - wait or newest <= now - memory:
        return None
    end = now // step * step if step > 0 else now
    return Period(newest, end) if end > newest else None


class RereadKind(StrEnum):
    GAP = "gap"  #: missing intervals between readings (VEE's interval.missing findings)
    SILENT = "silent"  #: nothing at all since the meter's newest interval reading


class RereadState(StrEnum):
    OPEN = "open"  #: asked, or to be asked again
    CLOSED = "closed"  #: the gap is no longer missing
    GIVEN_UP = "given_up"  #: every attempt failed or brought nothing: never asked again


class Move(StrEnum):
    WAIT = "wait"
    ASK = "ask"
    GIVE_UP = "give_up"


@dataclass(frozen=True, slots=True)
class RereadPolicy:
    """How a missed interval is re-read (settings, in seconds)."""

    max_attempts: int = 3
    retry_after: int = 3600  #: before the second attempt; doubles for each next one
    estimate_after: int = 3600  #: after the first request, VEE estimates a gap still open


def next_move(
    policy: RereadPolicy, *, attempts: int, asked_at: int, answered: bool, now: int
) -> Move:
    """What a gap still missing needs after ``attempts`` reads, the last asked at
    ``asked_at``; ``answered``: that read is over (executed, failed, timed out, canceled).

    >>> p = RereadPolicy(max_attempts=2, retry_after=100)
    >>> [next_move(p, attempts=1, asked_at=0, answered=a, now=n) for a, n in
    ...  ((False, 500), (True, 50), (True, 100))]
    [<Move.WAIT: 'wait'>, <Move.WAIT: 'wait'>, <Move.ASK: 'ask'>]
    >>> next_move(p, attempts=2, asked_at=0, answered=True, now=1000)
    <Move.GIVE_UP: 'give_up'>
    """
    if not answered:
        return Move.WAIT
    if attempts >= policy.max_attempts:
        return Move.GIVE_UP
    due = asked_at + policy.retry_after * 2 ** max(attempts - 1, 0)
    return Move.ASK if now >= due else Move.WAIT
