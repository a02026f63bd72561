"""Re-reads' `cimhub` commands: `reread sweep` (missed intervals older than the
re-acquisition wait → READ commands to their head-ends, estimates for what does not come;
what the serving hub does every CIMHUB_REREAD_SWEEP_MINUTES) and `reread list`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cimhub.settings import Settings


def add_commands(commands: Any) -> None:
    """Register `reread` on the top-level subparsers of `cimhub`."""
    reread = commands.add_parser("reread", help="re-reads of missed intervals: sweep, list")
    actions = reread.add_subparsers(required=True, metavar="ACTION")
    actions.add_parser("sweep", help="ask head-ends for missed intervals, now").set_defaults(
        run=_sweep
    )
    listing = actions.add_parser("list", help="a tenant's re-reads, newest first, JSON lines")
    listing.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    listing.add_argument("--state", choices=["open", "closed", "given_up"])
    listing.set_defaults(run=_list)


def _database(settings: Settings) -> Any:
    from cimhub.store.database import Database

    return Database.migrated(settings.database_url)


def _sweep(_args: argparse.Namespace) -> int:
    from cimhub.app import sweep_rereads

    settings = Settings()
    database = _database(settings)
    try:
        done = sweep_rereads(database, settings)
    finally:
        database.dispose()
    print(json.dumps({"rereads": done}))
    return 0


def _list(args: argparse.Namespace) -> int:
    from cimhub.domain.meter_read import RereadState
    from cimhub.mappings.timestamp import to_text
    from cimhub.store.rereads import RereadRepository

    settings = Settings()
    database = _database(settings)
    try:
        with database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.ensure(args.tenant or settings.default_tenant)
            states = {RereadState(args.state)} if args.state else None
            rows = RereadRepository(uow).rows(tenant_id, states)
            names = uow.meters.describe(tenant_id, {r.meter_id for r in rows})
            lines = [
                {
                    "meter": names[r.meter_id].key, "kind": r.kind,
                    "start": to_text(r.period_start),
                    "end": to_text(r.period_end), "state": r.state, "attempts": r.attempts,
                    "estimated": r.estimated_at is not None, "reason": r.reason,
                }
                for r in reversed(rows)
            ]  # fmt: skip
    finally:
        database.dispose()
    for line in lines:
        print(json.dumps(line))
    return 0
