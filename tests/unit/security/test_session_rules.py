"""The session rules on plain numbers: liveness (idle and absolute), the limit that
applies to a user's roles, which sessions a login evicts, and the failed-login lock."""

from __future__ import annotations

import doctest

import cimhub.domain.session as rules
from cimhub.domain.session import (
    Failures,
    Session,
    after_failure,
    idle_expiry,
    limit_for,
    live,
    locked,
    to_evict,
)

IDLE = 300


def test_the_doctests() -> None:
    result = doctest.testmod(rules)
    assert result.attempted > 0 and result.failed == 0


def test_a_session_ends_when_idle_or_at_its_absolute_expiry() -> None:
    s = Session(1, created_at=0, last_seen_at=1000, expires_at=2000)
    assert live(s, now=1000 + IDLE - 1, idle=IDLE)
    assert not live(s, now=1000 + IDLE, idle=IDLE)  # idle: ends exactly at the limit
    used = Session(1, created_at=0, last_seen_at=1999, expires_at=2000)
    assert live(used, now=1999, idle=IDLE)
    assert not live(used, now=2000, idle=IDLE)  # used a second ago, but absolutely over
    assert idle_expiry(s, IDLE) == 1300 and idle_expiry(used, IDLE) == 2000


def test_the_strictest_role_limit_applies_else_the_tenants_else_the_hubs() -> None:
    limits = {"": 4, "operator": 2, "administrator": 1}
    assert limit_for(frozenset({"operator", "administrator"}), limits, 9) == 1
    assert limit_for(frozenset({"analyst"}), limits, 9) == 4
    assert limit_for(frozenset({"analyst"}), {"operator": 2}, 9) == 9


def test_a_login_evicts_the_oldest_sessions_beyond_the_limit() -> None:
    sessions = [Session(i, created_at=c, last_seen_at=500, expires_at=900)
                for i, c in ((1, 30), (2, 10), (3, 20))]  # fmt: skip
    assert to_evict(sessions, limit=4) == []
    assert [s.id for s in to_evict(sessions, limit=3)] == [2]
    assert [s.id for s in to_evict(sessions, limit=1)] == [2, 3, 1]


def test_failures_in_a_row_lock_the_user_for_a_while() -> None:
    f = Failures()
    for now in (100, 110, 120, 130):
        f = after_failure(f, now, max_failures=5, lockout=900)
        assert not locked(f, now)
    f = after_failure(f, 140, max_failures=5, lockout=900)
    assert locked(f, 140) and locked(f, 1039) and not locked(f, 1040)
    assert f.count == 0  # the count starts again after the lock


def test_failures_far_apart_do_not_add_up() -> None:
    f = Failures()
    for now in (0, 1000, 2000, 3000, 4000, 5000):
        f = after_failure(f, now, max_failures=2, lockout=900)
        assert f.count == 1 and not locked(f, now)
