"""Users' logins: passwords checked under a per-user lockout, and interactive sessions
opened, resolved and ended — the operator console's way in.

* Every password check of a user (session login, HTTP Basic, a WS-Security
  PasswordText) counts its failures: ``login_max_failures`` in a row lock the user out
  for ``login_lockout_seconds``, during which even the right password is refused. A
  locked, an unknown and a wrong-password login look alike to the caller (same answer,
  same Argon2 work); the audit log says which it was.
* A session token (``cs_…``, see ``store.sessions``) is a bearer token or the
  ``cimhub_session`` cookie. It ends after ``session_idle_seconds`` without use, after
  ``session_max_seconds`` in any case, at logout, when an administrator revokes it, when
  the user's password changes or the user is disabled, or when a newer login evicts it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from cimhub.domain.access import Kind, Principal
from cimhub.domain.session import (
    EndReason,
    Failures,
    OnLimit,
    after_failure,
    limit_for,
    live,
    locked,
)
from cimhub.endpoints.auth_throttle import Throttle
from cimhub.errors import SessionLimitError
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.store.security import Member, Security, dummy_verify, verify_password
from cimhub.store.sessions import SessionInfo, Sessions
from cimhub.store.unit_of_work import UnitOfWork

log = logging.getLogger("cimhub.auth")
COOKIE = "cimhub_session"
CSRF_HEADER = "X-Cimhub-CSRF"
Reading = Callable[[], AbstractContextManager[UnitOfWork]]


@dataclass(frozen=True, slots=True)
class Opened:
    token: str  # shown once, never stored
    info: SessionInfo
    roles: frozenset[str]
    evicted: list[str]

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


class Logins:
    def __init__(self, settings: Settings, database: Database, reading: Reading) -> None:
        self.settings = settings
        self.database = database
        self._reading = reading
        self._locked_audit = Throttle(60.0)  # a locked user hammered: one entry a minute

    # ---- passwords ---------------------------------------------------------------------

    def password(
        self, name: str, password: str, client: str | None, tenant: str | None = None
    ) -> Member | None:
        """The active user when the password (and tenant, if given) is right and the user
        is not locked out; None otherwise (the failure counted and audited)."""
        now = int(time.time())
        with self._reading() as uow:
            found = Security(uow).active_user(name)
            failures = Sessions(uow).failures(found[0].id) if found else None
        if found is None or failures is None:
            dummy_verify(password)
            return None
        member, password_hash = found
        if locked(failures, now):
            dummy_verify(password)
            self._refused(member, client, "locked out", throttle=True)
            return None
        if verify_password(password_hash, password) and tenant in (None, member.tenant):
            if failures.count:
                self._set_failures(member, Failures())
            return member
        after = after_failure(
            failures, now, self.settings.login_max_failures, self.settings.login_lockout_seconds
        )
        self._set_failures(member, after)
        reason = "wrong password" if tenant in (None, member.tenant) else "wrong tenant"
        self._refused(member, client, reason, locks=locked(after, now))
        return None

    def unlock(self, member: Member, *, actor: str) -> None:
        with self.database.unit_of_work(hub=True) as uow:
            Sessions(uow).unlock(member.id, member.tenant, member.name, actor=actor)

    def _set_failures(self, member: Member, failures: Failures) -> None:
        with self.database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.find(member.tenant) or 0
            Sessions(uow).set_failures(member.id, tenant_id, failures)

    def _refused(
        self,
        member: Member,
        client: str | None,
        reason: str,
        *,
        throttle: bool = False,
        locks: bool = False,
    ) -> None:
        log.warning("login of %r from %s refused: %s", member.name, client, reason)
        skipped = self._locked_audit.due((member.name,)) if throttle else 0
        if skipped is None:
            return
        with self.database.unit_of_work(hub=True) as uow:
            audit = Sessions(uow).audit
            audit.record(
                f"user:{member.name}",
                "session.refused",
                f"user:{member.name}",
                tenant=member.tenant,
                after={"reason": reason, "address": client, "skipped_since_last": skipped},
            )
            if locks:
                audit.record(
                    "cimhub",
                    "user.locked",
                    f"user:{member.name}",
                    tenant=member.tenant,
                    after={"seconds": self.settings.login_lockout_seconds},
                )

    # ---- sessions ----------------------------------------------------------------------

    def open(self, member: Member, client: str | None) -> Opened:
        """A new session for the user, within its limit (or SessionLimitError, 6.4)."""
        settings, now = self.settings, int(time.time())
        with self.database.unit_of_work(hub=True) as uow:
            sessions = Sessions(uow)
            limits, on_limit = sessions.limits(uow.tenants.find(member.tenant) or 0)
            limit = limit_for(member.roles, limits, settings.session_limit)
            choice = on_limit or OnLimit(settings.session_on_limit)
            opened = sessions.open(
                member.id,
                member.tenant,
                member.name,
                (limit, choice),
                now=now,
                idle=settings.session_idle_seconds,
                absolute=settings.session_max_seconds,
                address=client or "",
            )
        if opened is None:  # the refusal is audited (committed above)
            raise SessionLimitError(
                f"{member.name!r} holds its limit of {limit} sessions; "
                "log out of one, or wait until one expires"
            )
        token, info, evicted = opened
        return Opened(token, info, member.roles, evicted)

    def resolve(self, token: str) -> Principal | str:
        """The principal of a live session; else why it is refused."""
        now, idle = int(time.time()), self.settings.session_idle_seconds
        with self._reading() as uow:
            found = Sessions(uow).by_token(token)
            member = Security(uow).user_member(found.user_id) if found else None
        if found is None or member is None:
            return "unknown session"
        if found.ended:
            return f"session ended ({found.ended})"
        if not live(found.session, now, idle):
            return "session expired"
        if now - found.session.last_seen_at >= max(1, min(60, idle // 10)):
            with self.database.unit_of_work(hub=True) as uow:  # the idle clock restarts
                Sessions(uow).touch(found.row_id, now)
        return Principal(
            member.name,
            member.tenant,
            member.roles,
            member.permissions,
            Kind.USER,
            session=found.public_id,
        )

    def logout(self, principal: Principal) -> None:
        assert principal.session is not None
        with self.database.unit_of_work(hub=True) as uow:
            Sessions(uow).end(
                principal.session,
                EndReason.LOGOUT,
                actor=f"user:{principal.name}",
                tenant=principal.tenant,
                now=int(time.time()),
            )


def csrf_token(token: str) -> str:
    """What a cookie-authenticated unsafe request must echo in ``X-Cimhub-CSRF``: derived
    from the session token, so only a page that saw the login answer knows it."""
    return hashlib.sha256(b"cimhub-csrf:" + token.encode()).hexdigest()[:32]
