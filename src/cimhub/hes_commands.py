"""Head-end `cimhub` commands: `hes endpoint set|list` (where each HES takes commands),
`hes commands` (commands and their state) and `hes-sim` (run the HES simulator)."""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

from cimhub.settings import Settings


def add_commands(commands: Any) -> None:
    """Register `hes` and `hes-sim` on the top-level subparsers of `cimhub`."""
    hes = commands.add_parser("hes", help="head-end endpoints and commands")
    actions = hes.add_subparsers(required=True, metavar="ACTION")
    endpoint = actions.add_parser("endpoint", help="where a head-end takes commands")
    ep = endpoint.add_subparsers(required=True, metavar="ACTION")
    put = ep.add_parser("set", help="create or replace a head-end endpoint")
    put.add_argument("name", help="the HES name meters carry (MeterConfig amrSystem / hes)")
    put.add_argument("--kind", choices=("http", "soap", "mqtt"), required=True)
    put.add_argument("--url", default="", help="CIM endpoint (http/soap)")
    put.add_argument("--vendor", help="MQTT vendor profile (mqtt)")
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

    sim = commands.add_parser("hes-sim", help="run the HES simulator (CIM over HTTP, MQTT)")
    sim.add_argument("--hub", default="http://127.0.0.1:8061", help="the hub's base URL")
    sim.add_argument("--tenant", default="default")
    sim.add_argument("--name", default="HES-SIM", help="the head-end's name (message Source)")
    sim.add_argument("--port", type=int, default=8071, help="where it takes CIM commands")
    sim.add_argument("--fail-rate", type=float, default=0.0, help="share of commands failing")
    sim.add_argument("--silent-rate", type=float, default=0.0, help="share never finished")
    sim.add_argument("--mqtt-url", help="also speak a vendor profile on this MQTT broker")
    sim.add_argument("--vendor", default="vendor-a", help="MQTT vendor profile")
    sim.add_argument("--prefix", default="cimhub", help="topic prefix (CIMHUB_MQTT_TOPIC_PREFIX)")
    sim.add_argument("--push", default="", help="comma-separated meters to push 15-min kWh for")
    sim.add_argument("--every", type=float, default=60.0, help="seconds between pushes")
    sim.set_defaults(run=_simulate)


def _open(args: argparse.Namespace) -> tuple[Any, int]:
    from cimhub.store.database import Database

    settings = Settings()
    database = Database(settings.database_url)
    database.upgrade()
    with database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(args.tenant or settings.default_tenant)
    return database, tenant_id


def _set_endpoint(args: argparse.Namespace) -> int:
    from cimhub.store.commands import CommandRepository, HesEndpoint

    if args.kind == "mqtt" and not args.vendor:
        print("cimhub: an mqtt head-end needs --vendor", flush=True)
        return 2
    if args.kind != "mqtt" and not args.url:
        print(f"cimhub: a {args.kind} head-end needs --url", flush=True)
        return 2
    database, tenant_id = _open(args)
    with database.unit_of_work(hub=True) as uow:
        CommandRepository(uow).put_endpoint(
            tenant_id, HesEndpoint(args.name, args.kind, args.url, args.vendor)
        )
    print(f"head-end {args.name}: {args.kind} {args.url or args.vendor}")
    return 0


def _list_endpoints(args: argparse.Namespace) -> int:
    from cimhub.store.commands import CommandRepository

    database, tenant_id = _open(args)
    with database.unit_of_work(hub=True) as uow:
        found = CommandRepository(uow).endpoints(tenant_id)
    print(json.dumps([_plain(e) for e in found]))
    return 0


def _plain(endpoint: Any) -> dict[str, Any]:
    return {k: getattr(endpoint, k) for k in ("name", "kind", "url", "vendor")}


def _list_commands(args: argparse.Namespace) -> int:
    from cimhub.store.commands import CommandRepository

    database, tenant_id = _open(args)
    with database.unit_of_work(hub=True) as uow:
        found, _total = CommandRepository(uow).query(tenant_id, states=args.state, limit=args.limit)
    for stored in found:
        c = stored.command
        print(json.dumps({"mrid": c.mrid, "kind": c.kind.value, "meter": c.meter.key,
                          "state": c.state.value, "hes": stored.hes}))  # fmt: skip
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from cimhub.simulator.behaviour import Behaviour
    from cimhub.simulator.cim_head_end import HttpHes
    from cimhub.simulator.mqtt_head_end import MqttHes

    behaviour = Behaviour(fail_rate=args.fail_rate, silent_rate=args.silent_rate)
    http = HttpHes(args.hub, name=args.name, tenant=args.tenant, behaviour=behaviour,
                   port=args.port).up()  # fmt: skip
    print(f"HES simulator {args.name}: CIM commands at {http.url}, outcomes to {args.hub}/cim")
    mqtt = None
    if args.mqtt_url:
        from cimhub.adapters.profile import load_profile

        mqtt = MqttHes(args.mqtt_url, load_profile(args.vendor), args.prefix,
                       behaviour=behaviour).start()  # fmt: skip
        print(f"  and {args.vendor} on {args.mqtt_url} under {args.prefix}/")
    meters = [m.strip() for m in args.push.split(",") if m.strip()]
    stop = threading.Event()
    try:
        while not stop.wait(args.every if meters else 3600):
            for meter in meters:  # the interval that just ended, as the HES would send it
                http.push_readings(meter, int(time.time()) // 900 * 900 - 900, 1)
    except KeyboardInterrupt:
        pass
    finally:
        http.down()
        if mqtt is not None:
            mqtt.stop()
    return 0
