"""Users' interactive sessions, failed-login counters and concurrent-session limits.

``open`` serialises a user's logins on the user's row (``FOR UPDATE`` on PostgreSQL; a
SQLite unit of work holds the one write lock), so two logins at once never both squeeze
past the limit. Every login, refusal, eviction, logout, revocation and limit change is
appended to the audit chain in the same transaction. Rules live in ``domain.session``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, or_, select, update

from cimhub.domain.session import (
    EVERY_ROLE,
    EndReason,
    Failures,
    OnLimit,
    Session,
    live,
    to_evict,
)
from cimhub.errors import UnknownObjectError
from cimhub.store.audit import AuditLog
from cimhub.store.models import Tenant
from cimhub.store.security_models import Role, User
from cimhub.store.session_models import LoginFailure, LoginSession, SessionLimit

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

TOKEN_PREFIX = "cs_"
#: Sessions ended or expired this long ago are deleted at the user's next login.
KEEP_SECONDS = 30 * 86_400


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str  # the public id (cs_…), never the token
    tenant: str
    user: str
    address: str
    created_at: int
    last_seen_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class Found:
    """A session presented by its token: the row's times and its user."""

    row_id: int
    public_id: str
    user_id: int
    session: Session
    ended: str | None  # the end reason, if it ended


class Sessions:
    """The session tables inside one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session
        self.audit = AuditLog(uow)

    # ---- opening and finding -----------------------------------------------------------

    def open(
        self,
        user_id: int,
        tenant: str,
        user: str,
        limit: tuple[int, OnLimit],
        *,
        now: int,
        idle: int,
        absolute: int,
        address: str,
    ) -> tuple[str, SessionInfo, list[str]] | None:
        """A new session for the user: (its token, shown once; its info; evicted ids), or
        None when the user holds its limit and the tenant refuses more (audited)."""
        tenant_id = self._user_row(user_id)
        alive = self._live_of(user_id, now, idle)
        maximum, on_limit = limit
        doomed = to_evict([s for s, _ in alive], maximum)
        if doomed and on_limit is OnLimit.REFUSE:
            self.audit.record(
                f"user:{user}",
                "session.refused",
                f"user:{user}",
                tenant=tenant,
                after={"reason": "session limit", "limit": maximum, "address": address},
            )
            return None
        names = {s.id: public for s, public in alive}
        evicted = [names[s.id] for s in doomed]
        for public in evicted:
            self._end(public, EndReason.EVICTED, now)
            self.audit.record(
                f"user:{user}",
                "session.evict",
                f"session:{public}",
                tenant=tenant,
                after={"by_login_from": address, "limit": maximum},
            )
        self._prune(user_id, now - KEEP_SECONDS, idle)
        public_id = TOKEN_PREFIX + secrets.token_hex(6)
        token = f"{public_id}.{secrets.token_urlsafe(32)}"
        self._session.add(
            LoginSession(
                tenant_id=tenant_id,
                user_id=user_id,
                public_id=public_id,
                token_hash=_hash(token),
                address=address[:64],
                created_at=now,
                last_seen_at=now,
                expires_at=now + absolute,
            )
        )
        self._session.flush()
        self.audit.record(
            f"user:{user}",
            "session.login",
            f"session:{public_id}",
            tenant=tenant,
            after={"address": address, "evicted": evicted},
        )
        info = SessionInfo(public_id, tenant, user, address, now, now, now + absolute)
        return token, info, evicted

    def by_token(self, token: str) -> Found | None:
        """The session this token opened (compared in constant time), ended or not."""
        public_id = token.split(".", 1)[0]
        row = self._session.scalar(select(LoginSession).where(LoginSession.public_id == public_id))
        if row is None or not secrets.compare_digest(row.token_hash, _hash(token)):
            return None
        times = Session(row.id, row.created_at, row.last_seen_at, row.expires_at)
        return Found(row.id, row.public_id, row.user_id, times, row.end_reason)

    def touch(self, row_id: int, now: int) -> None:
        self._session.execute(
            update(LoginSession).where(LoginSession.id == row_id).values(last_seen_at=now)
        )

    # ---- ending ------------------------------------------------------------------------

    def end(
        self,
        public_id: str,
        reason: EndReason,
        *,
        actor: str,
        tenant: str | None = None,
        now: int,
    ) -> None:
        """End one live session (of ``tenant`` when given); UnknownObjectError if none."""
        query = (
            select(LoginSession.public_id, Tenant.code)
            .join(Tenant, Tenant.id == LoginSession.tenant_id)
            .where(LoginSession.public_id == public_id, LoginSession.ended_at.is_(None))
        )
        if tenant is not None:
            query = query.where(Tenant.code == tenant)
        row = self._session.execute(query).one_or_none()
        if row is None:
            raise UnknownObjectError(f"no open session {public_id!r}", object_id=public_id)
        self._end(public_id, reason, now)
        action = "session.logout" if reason is EndReason.LOGOUT else "session.revoke"
        self.audit.record(actor, action, f"session:{public_id}", tenant=row.code)

    def end_all(
        self, user_id: int, reason: EndReason, *, actor: str, tenant: str, user: str, now: int
    ) -> int:
        """End every open session of the user; how many there were (audited when any)."""
        ended = self._session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason.value)
        ).rowcount
        if ended:
            self.audit.record(
                actor,
                "session.revoke",
                f"user:{user}",
                tenant=tenant,
                after={"sessions": ended, "reason": reason.value},
            )
        return int(ended)

    def _end(self, public_id: str, reason: EndReason, now: int) -> None:
        self._session.execute(
            update(LoginSession)
            .where(LoginSession.public_id == public_id, LoginSession.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason.value)
        )

    # ---- listing -----------------------------------------------------------------------

    def listing(
        self, *, now: int, idle: int, tenant: str | None = None, user: str | None = None
    ) -> list[SessionInfo]:
        """Live sessions, oldest first (of one tenant or user when given)."""
        query = (
            select(LoginSession, Tenant.code, User.name)
            .join(Tenant, Tenant.id == LoginSession.tenant_id)
            .join(User, User.id == LoginSession.user_id)
            .where(
                LoginSession.ended_at.is_(None),
                LoginSession.expires_at > now,
                LoginSession.last_seen_at > now - idle,
            )
            .order_by(LoginSession.created_at, LoginSession.id)
        )
        if tenant is not None:
            query = query.where(Tenant.code == tenant)
        if user is not None:
            query = query.where(User.name == user)
        return [
            SessionInfo(
                s.public_id, code, name, s.address, s.created_at, s.last_seen_at, s.expires_at
            )
            for s, code, name in self._session.execute(query)
        ]

    def _live_of(self, user_id: int, now: int, idle: int) -> list[tuple[Session, str]]:
        rows = self._session.scalars(
            select(LoginSession).where(
                LoginSession.user_id == user_id, LoginSession.ended_at.is_(None)
            )
        )
        found = [
            (Session(r.id, r.created_at, r.last_seen_at, r.expires_at), r.public_id) for r in rows
        ]
        return [(s, public) for s, public in found if live(s, now, idle)]

    def _prune(self, user_id: int, before: int, idle: int) -> None:
        self._session.execute(
            delete(LoginSession).where(
                LoginSession.user_id == user_id,
                or_(
                    LoginSession.ended_at < before,
                    LoginSession.expires_at < before,
                    LoginSession.last_seen_at < before - idle,
                ),
            )
        )

    def _user_row(self, user_id: int) -> int:
        """Lock the user's row (logins of one user queue here); its tenant id."""
        return int(
            self._session.execute(
                select(User.tenant_id).where(User.id == user_id).with_for_update()
            ).scalar_one()
        )

    # ---- failed logins -----------------------------------------------------------------

    def failures(self, user_id: int) -> Failures:
        row = self._session.get(LoginFailure, user_id)
        return Failures(row.count, row.last_at, row.locked_until) if row else Failures()

    def set_failures(self, user_id: int, tenant_id: int, failures: Failures) -> None:
        row = self._session.get(LoginFailure, user_id, with_for_update=True)
        if row is None:
            row = LoginFailure(user_id=user_id, tenant_id=tenant_id)
            self._session.add(row)
        row.count, row.last_at, row.locked_until = (
            failures.count,
            failures.last_at,
            failures.locked_until,
        )
        self._session.flush()

    def unlock(self, user_id: int, tenant: str, user: str, *, actor: str) -> None:
        """Forget the user's failed logins, lock included (audited)."""
        self._session.execute(delete(LoginFailure).where(LoginFailure.user_id == user_id))
        self.audit.record(actor, "user.unlock", f"user:{user}", tenant=tenant)

    # ---- limits ------------------------------------------------------------------------

    def limits(self, tenant_id: int) -> tuple[dict[str, int], OnLimit | None]:
        """The tenant's limits by role ('' = every role) and its choice at the limit."""
        rows = self._session.scalars(
            select(SessionLimit).where(SessionLimit.tenant_id == tenant_id)
        )
        limits, on_limit = {}, None
        for row in rows:
            limits[row.role] = row.max_sessions
            if row.role == EVERY_ROLE:
                on_limit = OnLimit(row.on_limit)
        return limits, on_limit

    def set_limit(
        self,
        tenant_id: int,
        tenant: str,
        role: str,
        max_sessions: int,
        on_limit: OnLimit,
        *,
        actor: str,
    ) -> None:
        if role and self._session.scalar(select(Role.id).where(Role.name == role)) is None:
            raise UnknownObjectError(f"no role {role!r}", object_id=role)
        row = self._session.get(SessionLimit, (tenant_id, role))
        before = (
            None if row is None else {"max_sessions": row.max_sessions, "on_limit": row.on_limit}
        )
        if row is None:
            row = SessionLimit(tenant_id=tenant_id, role=role)
            self._session.add(row)
        row.max_sessions, row.on_limit = max_sessions, on_limit.value
        self._session.flush()
        self.audit.record(
            actor,
            "session.limit",
            f"role:{role or '*'}",
            tenant=tenant,
            before=before,
            after={"max_sessions": max_sessions, "on_limit": on_limit.value},
        )


def _hash(token: str) -> str:
    from cimhub.store.security import key_hash

    return key_hash(token)
