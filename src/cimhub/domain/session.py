"""Interactive sessions and failed logins, as rules over plain numbers (epoch seconds).

A session is live while it has been used within the idle lifetime and its absolute
lifetime has not run out. A user may hold a limited number of live sessions: the limit
is the smallest one set for any of the user's roles, else the tenant's, else the hub's.
A login beyond the limit either evicts the user's oldest sessions (``evict``, the default)
or is refused (``refuse``). Failed logins lock a user out for a while after too many in a row.

>>> live(Session(1, created_at=0, last_seen_at=100, expires_at=1000), now=200, idle=300)
True
>>> live(Session(1, created_at=0, last_seen_at=100, expires_at=1000), now=400, idle=300)
False
>>> limit_for(frozenset({"operator", "analyst"}), {"": 5, "operator": 2, "analyst": 3}, 9)
2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

#: The key of a tenant's limit for users of every role.
EVERY_ROLE = ""


class OnLimit(StrEnum):
    """What a login beyond the user's limit does."""

    EVICT = "evict"  # end the user's oldest live sessions to make room
    REFUSE = "refuse"  # refuse the new login until a session ends


class EndReason(StrEnum):
    LOGOUT = "logout"
    REVOKED = "revoked"  # by an administrator
    EVICTED = "evicted"  # by a newer login beyond the limit
    PASSWORD = "password"  # the user's password changed
    DISABLED = "disabled"  # the user was disabled


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    created_at: int
    last_seen_at: int
    expires_at: int


def live(session: Session, now: int, idle: int) -> bool:
    """Used within ``idle`` seconds and before its absolute expiry."""
    return now < session.expires_at and now - session.last_seen_at < idle


def idle_expiry(session: Session, idle: int) -> int:
    """When the session ends if it is not used again."""
    return min(session.expires_at, session.last_seen_at + idle)


def limit_for(roles: frozenset[str], limits: Mapping[str, int], default: int) -> int:
    """The smallest limit set for one of ``roles``, else the tenant's, else ``default``."""
    by_role = [limits[role] for role in roles if role in limits]
    if by_role:
        return min(by_role)
    return limits.get(EVERY_ROLE, default)


def to_evict(live_sessions: Sequence[Session], limit: int) -> list[Session]:
    """The oldest sessions to end so that one more fits within ``limit``."""
    excess = len(live_sessions) + 1 - limit
    if excess <= 0:
        return []
    return sorted(live_sessions, key=lambda s: (s.created_at, s.id))[:excess]


@dataclass(frozen=True, slots=True)
class Failures:
    """A user's failed logins in a row, and the end of the current lock (0: none)."""

    count: int = 0
    last_at: int = 0
    locked_until: int = 0


def locked(failures: Failures, now: int) -> bool:
    return now < failures.locked_until


def after_failure(failures: Failures, now: int, max_failures: int, lockout: int) -> Failures:
    """One more failure; the ``max_failures``-th in a row (none older than ``lockout``
    seconds apart) locks the user for ``lockout`` seconds and starts the count again."""
    count = failures.count + 1 if now - failures.last_at < lockout else 1
    if count >= max_failures:
        return Failures(0, now, now + lockout)
    return replace(failures, count=count, last_at=now)
