"""`cimhub session list | revoke | limit` and `cimhub user unlock`: users' interactive
sessions, their concurrent-session limits and failed-login locks (every change audited)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cimhub.errors import CimHubError
from cimhub.settings import Settings


def add_commands(commands: Any, user_actions: Any) -> None:
    session = commands.add_parser("session", help="users' interactive sessions and their limits")
    actions = session.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="live sessions (never their tokens)")
    listing.add_argument("--tenant")
    listing.add_argument("--user")
    listing.set_defaults(run=_list)
    revoke = actions.add_parser("revoke", help="end a session, or every session of a user")
    revoke.add_argument("id", nargs="?", help="the session's public id (cs_…)")
    revoke.add_argument("--user", help="end every session of this user instead")
    revoke.set_defaults(run=_revoke)
    limit = actions.add_parser("limit", help="show or set a tenant's concurrent-session limit")
    limit.add_argument("--tenant", required=True)
    limit.add_argument("max_sessions", nargs="?", type=int, help="live sessions per user")
    limit.add_argument("--role", default="", help="for users of this role (default: every role)")
    limit.add_argument(
        "--on-limit",
        choices=("evict", "refuse"),
        help="a login beyond the limit ends the oldest session or is refused (tenant-wide)",
    )
    limit.set_defaults(run=_limit)
    unlock = user_actions.add_parser("unlock", help="lift a failed-login lock")
    unlock.add_argument("name")
    unlock.set_defaults(run=_unlock)


@contextmanager
def _opened(settings: Settings) -> Iterator[Any]:
    """The store, disposed of on the way out however the command ends."""
    from cimhub.store.database import Database

    with Database(settings.database_url) as database:
        database.upgrade()
        yield database


def _list(args: argparse.Namespace) -> int:
    from cimhub.store.sessions import Sessions

    settings = Settings()
    with _opened(settings) as database, database.unit_of_work(hub=True) as uow:
        found = Sessions(uow).listing(
            now=int(time.time()),
            idle=settings.session_idle_seconds,
            tenant=args.tenant,
            user=args.user,
        )
    for s in found:
        print(
            f"{s.id}\t{s.tenant}\t{s.user}\t{s.address or '-'}\t{_when(s.created_at)}\t"
            f"last used {_when(s.last_seen_at)}\tends {_when(s.expires_at)}"
        )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from cimhub.domain.session import EndReason
    from cimhub.security_commands import actor
    from cimhub.store.security import Security
    from cimhub.store.sessions import Sessions

    if bool(args.id) == bool(args.user):
        print("cimhub: name a session id or --user (one of them)", file=sys.stderr)
        return 2
    try:
        with _opened(Settings()) as database, database.unit_of_work(hub=True) as uow:
            now = int(time.time())
            if args.id:
                Sessions(uow).end(args.id, EndReason.REVOKED, actor=actor(), now=now)
                print(f"revoked {args.id}")
                return 0
            found = Security(uow).active_user(args.user)
            if found is None:
                print(f"cimhub: no active user {args.user!r}", file=sys.stderr)
                return 1
            member = found[0]
            ended = Sessions(uow).end_all(
                member.id,
                EndReason.REVOKED,
                actor=actor(),
                tenant=member.tenant,
                user=member.name,
                now=now,
            )
        print(f"revoked {ended} session(s) of {args.user}")
        return 0
    except CimHubError as exc:
        print(f"cimhub: {exc.reason}", file=sys.stderr)
        return 1


def _limit(args: argparse.Namespace) -> int:
    from cimhub.domain.session import OnLimit
    from cimhub.security_commands import actor
    from cimhub.store.sessions import Sessions

    settings = Settings()
    try:
        with _opened(settings) as database, database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.find(args.tenant)
            if tenant_id is None:
                print(f"cimhub: unknown tenant {args.tenant!r}", file=sys.stderr)
                return 1
            sessions = Sessions(uow)
            if args.max_sessions is not None:
                current = sessions.limits(tenant_id)[1] or OnLimit(settings.session_on_limit)
                choice = OnLimit(args.on_limit) if args.on_limit else current
                sessions.set_limit(
                    tenant_id, args.tenant, args.role, args.max_sessions, choice, actor=actor()
                )
            limits, on_limit = sessions.limits(tenant_id)
    except CimHubError as exc:
        print(f"cimhub: {exc.reason}", file=sys.stderr)
        return 1
    print(
        f"{args.tenant}: at the limit {(on_limit or OnLimit(settings.session_on_limit)).value}; "
        f"hub default {settings.session_limit}"
    )
    for role, maximum in sorted(limits.items()):
        print(f"{role or '(every role)'}\t{maximum}")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    from cimhub.security_commands import actor
    from cimhub.store.security import Security
    from cimhub.store.sessions import Sessions

    with _opened(Settings()) as database, database.unit_of_work(hub=True) as uow:
        found = Security(uow).active_user(args.name)
        if found is not None:
            member = found[0]
            Sessions(uow).unlock(member.id, member.tenant, member.name, actor=actor())
    if found is None:
        print(f"cimhub: no active user {args.name!r}", file=sys.stderr)
        return 1
    print(f"user {args.name!r} unlocked")
    return 0


def _when(ts: int) -> str:
    from cimhub.security_commands import _when as when

    return when(ts)
