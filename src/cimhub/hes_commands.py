"""Head-end `cimhub` commands: `hes endpoint set|list` (where each HES takes commands) and
`hes commands` (commands and their state); the simulator is `cimhub simulate hes`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cimhub.settings import Settings


def add_commands(commands: Any) -> None:
    """Register `hes` on the top-level subparsers of `cimhub`."""
    hes = commands.add_parser("hes", help="head-end endpoints and commands")
    actions = hes.add_subparsers(required=True, metavar="ACTION")
    endpoint = actions.add_parser("endpoint", help="where a head-end takes commands")
    ep = endpoint.add_subparsers(required=True, metavar="ACTION")
    put = ep.add_parser("set", help="create or replace a head-end endpoint")
    put.add_argument("name", help="the HES name meters carry (MeterConfig amrSystem / hes)")
    put.add_argument("--kind", choices=("http", "soap", "mqtt"), required=True)
    put.add_argument(
        "--url",
        default="",
        help="CIM endpoint (http/soap), or its WSDL URLs (soap, space-separated)",
    )
    put.add_argument("--vendor", help="MQTT vendor profile (mqtt)")
    put.add_argument(
        "--read-as",
        choices=("get", "control"),
        default="get",
        help="reads go to a CIM head-end as GetMeterReadings (get, the default) or as an "
        "EndDeviceControl 3.21.0.8 (control)",
    )
    put.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    put.set_defaults(run=_set_endpoint)
    listed = ep.add_parser("list", help="a tenant's head-end endpoints as JSON")
    listed.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    listed.set_defaults(run=_list_endpoints)
    cmds = actions.add_parser("commands", help="commands (newest first) as JSON lines")
    cmds.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    cmds.add_argument("--state", action="append", default=[], help="only in this state")
    cmds.add_argument("--limit", type=int, default=100)
    cmds.set_defaults(run=_list_commands)


@contextmanager
def _opened(args: argparse.Namespace) -> Iterator[tuple[Any, int]]:
    """The store (disposed of on the way out, however the command ends) and the tenant."""
    from cimhub.store.database import Database

    settings = Settings()
    with Database(settings.database_url) as database:
        database.upgrade()
        with database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.ensure(args.tenant or settings.default_tenant)
        yield database, tenant_id


def _set_endpoint(args: argparse.Namespace) -> int:
    from cimhub.store.commands import CommandRepository, HesEndpoint

    if args.kind == "mqtt" and not args.vendor:
        print("cimhub: an mqtt head-end needs --vendor", flush=True)
        return 2
    if args.kind != "mqtt" and not args.url:
        print(f"cimhub: a {args.kind} head-end needs --url", flush=True)
        return 2
    with _opened(args) as (database, tenant_id), database.unit_of_work(hub=True) as uow:
        CommandRepository(uow).put_endpoint(
            tenant_id, HesEndpoint(args.name, args.kind, args.url, args.vendor, args.read_as)
        )
    print(f"head-end {args.name}: {args.kind} {args.url or args.vendor}")
    return 0


def _list_endpoints(args: argparse.Namespace) -> int:
    from cimhub.store.commands import CommandRepository

    with _opened(args) as (database, tenant_id), database.unit_of_work(hub=True) as uow:
        found = CommandRepository(uow).endpoints(tenant_id)
    print(json.dumps([_plain(e) for e in found]))
    return 0


def _plain(endpoint: Any) -> dict[str, Any]:
    return {k: getattr(endpoint, k) for k in ("name", "kind", "url", "vendor", "read_as")}


def _list_commands(args: argparse.Namespace) -> int:
    from cimhub.store.commands import CommandRepository

    with _opened(args) as (database, tenant_id), database.unit_of_work(hub=True) as uow:
        found, _total = CommandRepository(uow).query(tenant_id, states=args.state, limit=args.limit)
    for stored in found:
        c = stored.command
        print(json.dumps({"mrid": c.mrid, "kind": c.kind.value, "meter": c.meter.key,
                          "state": c.state.value, "hes": stored.hes}))  # fmt: skip
    return 0
