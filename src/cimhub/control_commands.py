"""Command-control `cimhub` commands: `control contact set|list` (where an approver's
one-time codes go; an administrator's task, audited) and `control disconnections` (the
disconnection summary by organisation unit, seed 004)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cimhub.settings import Settings


def add_commands(commands: Any) -> None:
    """Register `control` on the top-level subparsers of `cimhub`."""
    control = commands.add_parser("control", help="approvers' contacts, disconnection reports")
    actions = control.add_subparsers(required=True, metavar="ACTION")
    contact = actions.add_parser("contact", help="where an approver's one-time codes go")
    contacts = contact.add_subparsers(required=True, metavar="ACTION")
    put = contacts.add_parser("set", help="register (or replace) an approver's contact")
    put.add_argument("name", help="the approver as the hub knows them (user, JWT sub, key)")
    put.add_argument("--to", required=True, help="email address, or phone number for SMS")
    put.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    put.set_defaults(run=_set_contact)
    listed = contacts.add_parser("list", help="the tenant's approvers and their contacts")
    listed.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    listed.set_defaults(run=_list_contacts)
    report = actions.add_parser(
        "disconnections", help="disconnect/reconnect commands by state per organisation unit"
    )
    report.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    levels = ["region", "circle", "division", "subdivision", "section"]
    report.add_argument("--level", default="division", choices=levels)
    report.add_argument("--start", help="ISO 8601 instant with zone (default: end − 30 days)")
    report.add_argument("--end", help="ISO 8601 instant with zone, excluded (default: now)")
    report.add_argument("--csv", action="store_true", help="CSV rows instead of JSON")
    report.set_defaults(run=_disconnections)


@contextmanager
def _opened(args: argparse.Namespace) -> Iterator[tuple[Any, int, str]]:
    """The store (disposed of on the way out, however the command ends), the tenant's id
    and code."""
    from cimhub.store.database import Database

    settings = Settings()
    code = args.tenant or settings.default_tenant
    with Database(settings.database_url) as database:
        database.upgrade()
        with database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.find(code)
        if tenant_id is None:
            raise SystemExit(f"cimhub: unknown tenant {code!r}")
        yield database, tenant_id, code


def _set_contact(args: argparse.Namespace) -> int:
    from cimhub.security_commands import actor
    from cimhub.store.approval_codes import ApprovalCodeRepository
    from cimhub.store.audit import AuditLog

    address = args.to.strip()
    if not address:
        print("cimhub: --to needs an address", flush=True)
        return 2
    with _opened(args) as (database, tenant_id, code), database.unit_of_work(tenant_id) as uow:
        before = ApprovalCodeRepository(uow).set_contact(tenant_id, args.name, address, actor())
        AuditLog(uow).record(actor(), "approver.contact.set", f"approver:{args.name}",
                             tenant=code, before=before, after=address)  # fmt: skip
    print(f"{args.name}: one-time codes go to {address}")
    return 0


def _list_contacts(args: argparse.Namespace) -> int:
    from cimhub.store.approval_codes import ApprovalCodeRepository

    with _opened(args) as (database, tenant_id, _code), database.unit_of_work(tenant_id) as uow:
        found = ApprovalCodeRepository(uow).contacts(tenant_id)
    print(json.dumps(found))
    return 0


def _disconnections(args: argparse.Namespace) -> int:
    import csv
    import io
    import time

    from cimhub.domain.hierarchy import Level
    from cimhub.errors import CimHubError
    from cimhub.mappings.timestamp import to_epoch
    from cimhub.store.command_reports import disconnections

    try:
        end = to_epoch(args.end) if args.end else int(time.time()) + 1  # now included
        start = to_epoch(args.start) if args.start else end - 30 * 86_400
    except CimHubError as exc:
        print(f"cimhub: {exc.reason}", flush=True)
        return 2
    with _opened(args) as (database, tenant_id, _code), database.unit_of_work(tenant_id) as uow:
        report = disconnections(uow, tenant_id, start=start, end=end, level=Level(args.level))
    if args.csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, report.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(report.rows)
        print(out.getvalue(), end="")
    else:
        print(json.dumps({"summary": report.summary, "rows": report.rows}, indent=2))
    return 0
