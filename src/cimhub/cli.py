"""The `cimhub` command: serve, db upgrade, ingest, bench."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cimhub import __version__
from cimhub.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.run(args) or 0)


def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="cimhub", description="IEC 61968 integration hub and MDM")
    top.add_argument("--version", action="version", version=f"cimhub {__version__}")
    top.add_argument("-v", "--verbose", action="store_true", help="log every message")
    commands = top.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the hub (HTTP + SOAP)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8061)")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed a demo tenant and a simulated HES pushing readings",
    )
    serve.add_argument("--demo-meters", type=int, default=20, help="meters the demo HES reads")
    serve.set_defaults(run=_serve)

    from cimhub.bus_commands import add_commands  # worker, dlq

    add_commands(commands)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations").set_defaults(run=_db_upgrade)

    from cimhub.security_commands import add_commands as add_security  # credential|user|role|audit

    add_security(commands)
    from cimhub.vee_commands import add_commands as add_vee  # vee rerun | report | findings

    add_vee(commands)
    from cimhub.billing_commands import add_commands as add_billing  # billing config|run|export

    add_billing(commands)
    from cimhub.exception_commands import add_commands as add_exceptions  # sweep | list

    add_exceptions(commands)
    from cimhub.reread_commands import add_commands as add_rereads  # reread sweep | list

    add_rereads(commands)
    from cimhub.hes_commands import add_commands as add_hes  # hes endpoint|commands

    add_hes(commands)
    from cimhub.simulate_commands import add_commands as add_simulate  # simulate hes, hes-sim

    add_simulate(commands)
    from cimhub.control_commands import add_commands as add_control  # contact, disconnections

    add_control(commands)

    ingest = commands.add_parser("ingest", help="process CIM files as if they had been posted")
    ingest.add_argument("files", nargs="+", type=Path)
    ingest.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    ingest.add_argument(
        "--verb", default="created", help="verb for bare payloads (default created)"
    )
    ingest.set_defaults(run=_ingest)

    from cimhub.conformance.command import add_subcommand  # conformance run | list

    add_subcommand(commands)

    imports = commands.add_parser("import", help="bulk-import master data")
    import_kinds = imports.add_subparsers(required=True, metavar="FORMAT")
    csv_files = import_kinds.add_parser(
        "csv", help="organisation, network, meter and consumer CSV files (see cimhub.imports)"
    )
    csv_files.add_argument("files", nargs="+", type=Path)
    csv_files.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    csv_files.add_argument("--dry-run", action="store_true", help="check everything, store nothing")
    csv_files.add_argument(
        "--kind",
        choices=["organisation", "network", "meter", "consumer"],
        help="kind of every file (default: from each file's name)",
    )
    csv_files.set_defaults(run=_import_csv)

    tenant = commands.add_parser("tenant", help="list tenants or change a tenant's settings")
    tenant.add_argument("code", nargs="?", help="tenant code (none: list every tenant)")
    tenant.add_argument("--name", help="the DISCOM's name (for a new tenant)")
    tenant.add_argument(
        "--auto-register",
        choices=["on", "off", "default"],
        help="create unknown meters on first readings (default: CIMHUB_AUTO_REGISTER_METERS)",
    )
    tenant.add_argument(
        "--approval-codes",
        choices=["on", "off", "default"],
        help="approvals need a one-time code sent to the approver (default: CIMHUB_APPROVAL_CODES)",
    )
    tenant.add_argument(
        "--on-demand-stale-minutes",
        metavar="MINUTES|default",
        type=_minutes_or_default,
        help="a GetMeterReadings on data older than this reads the meter on demand; 0: only "
        "Option onDemand=true does (default: CIMHUB_ON_DEMAND_STALE_MINUTES)",
    )
    tenant.set_defaults(run=_tenant)

    bench = commands.add_parser("bench", help="measure ingest, queries and memory (BENCHMARKS.md)")
    bench.add_argument("--quick", action="store_true", help="a smoke run of seconds")
    bench.add_argument("--scale", type=float, default=1.0, help="multiply the amounts (default 1)")
    bench.add_argument(
        "--write",
        nargs="?",
        const=Path("BENCHMARKS.md"),
        type=Path,
        help="rewrite the results block of BENCHMARKS.md (or of the file given)",
    )
    bench.add_argument("--json", type=Path, help="also save the figures as JSON")
    bench.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    bench.add_argument("--only", action="append", default=[], help="scenarios starting with")
    bench.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    bench.set_defaults(run=_bench)
    return top


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from cimhub.app import Hub
    from cimhub.heap import settle

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if args.demo:
        overrides.setdefault("default_tenant", "demo")
    settings = Settings(**overrides)
    from cimhub.security_commands import auth_configured, demo_key, serve_banner

    secured = auth_configured(settings)
    refusal = listen_refusal(settings.host, secured)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    hub = Hub.build(settings)
    hub.start_housekeeping()
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per demo push is noise
    print(
        f"cimhub {__version__} on {'https' if settings.tls_cert_file else 'http'}://"
        f"{settings.host}:{settings.port}  "
        f"(store: {hub.database.dialect}; POST /cim, SOAP at /soap)\n"
        + serve_banner(settings, secured),
        flush=True,
    )
    demo = None
    if args.demo:
        from cimhub.demo import DemoHes

        key = demo_key(hub.database, settings.default_tenant) if secured else None
        demo = DemoHes(
            f"http://{settings.host}:{settings.port}", meters=args.demo_meters, api_key=key
        )
        demo.start()
    app = hub.web_app()
    settle()
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            **tls_options(settings),
        )
    finally:
        if demo:
            demo.stop()
        hub.close()
    return 0


def tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's TLS arguments: HTTPS with TLS 1.2 or newer (Python's server default), and
    optional client certificates; none when no certificate is configured."""
    import ssl

    if not settings.tls_cert_file:
        return {}
    options: dict[str, Any] = {
        "ssl_certfile": settings.tls_cert_file,
        "ssl_keyfile": settings.tls_key_file,
        "ssl_version": ssl.PROTOCOL_TLS_SERVER,
    }
    if settings.tls_client_ca_file:  # certificates verified, and passed on to the app
        from cimhub.endpoints.client_cert import ClientCertProtocol

        options |= {"ssl_ca_certs": settings.tls_client_ca_file, "ssl_cert_reqs": ssl.CERT_OPTIONAL,
                    "http": ClientCertProtocol}  # fmt: skip
    return options


def listen_refusal(host: str, secured: bool) -> str | None:
    """Why the hub may not listen on ``host`` (None: it may): open hubs stay on loopback."""
    if secured or _is_loopback(host):
        return None
    return (
        f"cimhub: refusing to listen on {host}: no authentication is configured "
        "(no credential, user or JWT key), so the hub listens on a loopback address only. "
        "Create a credential first: cimhub credential create --tenant T --name N "
        "--role administrator"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: we cannot promise where it resolves
        return False


def _db_upgrade(args: argparse.Namespace) -> int:
    from cimhub.store.database import Database

    settings = Settings()
    with Database(settings.database_url) as database:
        database.upgrade()
    print(f"database at {_safe_url(settings.database_url)} is up to date")
    return 0


def _safe_url(url: str) -> str:
    """The URL without a password, for printing."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def _ingest(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from cimhub.app import Hub
    from cimhub.bus.pipeline import Inbound
    from cimhub.message.reply import Result
    from cimhub.message.verb import parse_verb

    verb = parse_verb(args.verb)
    if verb is None:
        print(f"unknown verb {args.verb!r}", file=sys.stderr)
        return 2
    settings = Settings()
    hub = Hub.build(settings)
    tenant = args.tenant or settings.default_tenant
    failed = 0
    with Progress(transient=len(args.files) < 2) as progress:
        task = progress.add_task("ingesting", total=len(args.files))
        for path in args.files:
            answer = hub.pipeline.process(Inbound(path.read_bytes(), tenant, "file", verb))
            if answer.result is not Result.OK:
                failed += 1
                progress.console.print(f"[red]{path}: {answer.result} {answer.code}[/red]")
            progress.advance(task)
    hub.close()
    print(f"{len(args.files) - failed} of {len(args.files)} files OK")
    return 1 if failed else 0


def _bench(args: argparse.Namespace) -> int:
    from cimhub.bench.plan import Plan
    from cimhub.bench.runner import run

    if args.scale <= 0:
        print("--scale must be positive", file=sys.stderr)
        return 2
    run(
        Plan(quick=args.quick, scale=args.scale),
        backends=args.backend,
        only=args.only,
        pin=not args.no_pin,
        write=args.write,
        json_path=args.json,
    )
    return 0


def _tenant(args: argparse.Namespace) -> int:
    from cimhub.store.database import Database

    with Database(Settings().database_url) as database:
        database.upgrade()
        with database.unit_of_work(hub=True) as uow:
            if args.code:
                _configure_tenant(uow, args)
            tenants = uow.tenants.all()
    word = {None: "default", True: "on", False: "off"}
    for t in tenants:
        if not args.code or t.code == args.code:
            stale = t.on_demand_stale_minutes
            print(f"{t.code}\t{t.name}\tauto-register {word[t.auto_register_meters]}"
                  f"\tapproval-codes {word[t.approval_codes]}"
                  f"\ton-demand-stale-minutes {'default' if stale is None else stale}")  # fmt: skip
    return 0


def _configure_tenant(uow: Any, args: argparse.Namespace) -> None:
    """Create tenant ``args.code`` if new and apply the switches given (each audited)."""
    from cimhub.security_commands import actor
    from cimhub.store.audit import AuditLog

    if uow.tenants.find(args.code) is None:
        AuditLog(uow).record(
            actor(),
            "tenant.create",
            f"tenant:{args.code}",
            tenant=args.code,
            after={"name": args.name or args.code},
        )
    tenant_id = uow.tenants.ensure(args.code, args.name)
    chosen: dict[str, bool | int | None] = {
        name: {"on": True, "off": False, "default": None}[value]
        for name, value in (
            ("auto_register_meters", args.auto_register),
            ("approval_codes", args.approval_codes),
        )
        if value
    }
    if args.on_demand_stale_minutes is not None:
        minutes = args.on_demand_stale_minutes
        chosen["on_demand_stale_minutes"] = None if minutes == "default" else int(minutes)
    if chosen:
        uow.tenants.configure(tenant_id, **chosen)
        AuditLog(uow).record(
            actor(), "tenant.configure", f"tenant:{args.code}", tenant=args.code,
            after=chosen,
        )  # fmt: skip


def _minutes_or_default(text: str) -> str:
    """A whole number of minutes (0 or more), or ``default``."""
    if text == "default" or (text.isdigit() and int(text) >= 0):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes or 'default'")


def _import_csv(args: argparse.Namespace) -> int:
    from cimhub.imports.cli import run_csv_import

    settings = Settings()
    tenant = args.tenant or settings.default_tenant
    return run_csv_import(settings, args.files, tenant=tenant, dry_run=args.dry_run, kind=args.kind)


if __name__ == "__main__":
    sys.exit(main())
