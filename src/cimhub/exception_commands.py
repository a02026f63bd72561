"""Exceptions' `cimhub` commands: `exceptions sweep` (new VEE findings and silent meters of
every tenant become exceptions; what the serving hub does every 15 minutes) and
`exceptions list` (a tenant's exceptions as JSON lines, newest first)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cimhub.settings import Settings


def add_commands(commands: Any) -> None:
    """Register `exceptions` on the top-level subparsers of `cimhub`."""
    exceptions = commands.add_parser("exceptions", help="exceptions: sweep, list")
    actions = exceptions.add_subparsers(required=True, metavar="ACTION")
    sweep = actions.add_parser("sweep", help="findings and silent meters → exceptions, now")
    sweep.set_defaults(run=_sweep)
    listing = actions.add_parser("list", help="a tenant's exceptions, newest first")
    listing.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    listing.add_argument("--status", help="open, assigned, resolved, closed or suppressed")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(run=_list)


def _database(settings: Settings) -> Any:
    from cimhub.store.database import Database

    return Database.migrated(settings.database_url)


def _sweep(_args: argparse.Namespace) -> int:
    from cimhub.handlers.exceptions import sweep

    settings = Settings()
    database = _database(settings)
    try:
        with database.unit_of_work(hub=True) as uow:
            done = sweep(uow, settings)
    finally:
        database.dispose()
    print(json.dumps({"exceptions": done}))
    return 0


def _list(args: argparse.Namespace) -> int:
    from cimhub.store.exceptions import ExceptionRepository, ExceptionRow, exception_body

    settings = Settings()
    database = _database(settings)
    try:
        with database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.ensure(args.tenant or settings.default_tenant)
            rows, _ = ExceptionRepository(uow).page(
                ExceptionRow, tenant_id, {"status": args.status}, args.limit, 0
            )
            names = uow.meters.describe(tenant_id, {r.meter_id for r in rows})
            for row in rows:
                print(json.dumps({**exception_body(row), "meter": names[row.meter_id].key}))
    finally:
        database.dispose()
    return 0
