"""Billing's `cimhub` commands: `billing config` (load a tenant's TOML/JSON configuration),
`billing run --cycle YYYY-MM` (determinants, readiness, export to billing subscribers
through the outbox), `billing export --cycle YYYY-MM` (CSV of the stored determinants) and
`billing prepaid-feed --day YYYY-MM-DD` (a day's consumption to prepaid subscribers)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from cimhub.settings import Settings

CSV_COLUMNS = (
    "usage_point", "consumer_number", "cycle", "ready", "reason", "kwh_import", "kwh_export",
    "kwh_net", "kvah_import", "kvah_export", "md_kw", "md_kw_at", "md_kva", "md_kva_at",
    "power_factor", "register_kwh", "estimated_pct", "missing_pct", "open_exceptions",
    "tamper_events", "outages", "outage_minutes", "tou_kwh_import",
)  # fmt: skip


def add_commands(commands: Any) -> None:
    """Register `billing` on the top-level subparsers of `cimhub`."""
    billing = commands.add_parser("billing", help="billing determinants: config, run, export")
    actions = billing.add_subparsers(required=True, metavar="ACTION")
    config = actions.add_parser("config", help="load a tenant's billing configuration")
    config.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    config.add_argument("file", help="TOML or JSON document (see README, Billing)")
    config.set_defaults(run=_config)
    run = actions.add_parser("run", help="compute a cycle's determinants and export them")
    run.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    run.add_argument("--cycle", required=True, help="billing cycle YYYY-MM")
    run.add_argument("--reaggregate", action="store_true", help="rebuild daily aggregates first")
    run.set_defaults(run=_run)
    export = actions.add_parser("export", help="the stored determinants of a cycle as CSV")
    export.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    export.add_argument("--cycle", required=True, help="billing cycle YYYY-MM")
    export.set_defaults(run=_export)
    feed = actions.add_parser(
        "prepaid-feed", help="send a day's consumption to prepaid subscribers"
    )
    feed.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    feed.add_argument(
        "--day", type=date.fromisoformat, help="local day YYYY-MM-DD (default: yesterday)"
    )
    feed.set_defaults(run=_prepaid_feed)


def _open(args: argparse.Namespace) -> tuple[Any, str]:
    from cimhub.store.database import Database

    settings = Settings()
    return Database.migrated(settings.database_url), args.tenant or settings.default_tenant


def _config(args: argparse.Namespace) -> int:
    path = Path(args.file)
    text = path.read_text()
    document = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    database, tenant = _open(args)
    from cimhub.store.billing_config import BillingConfigs

    try:
        with database.unit_of_work(hub=True) as uow:
            version = BillingConfigs(uow).put(uow.tenants.ensure(tenant), document, by="cli")
    finally:
        database.dispose()
    print(json.dumps({"tenant": tenant, "version": version}))
    return 0


def _run(args: argparse.Namespace) -> int:
    from cimhub.handlers.billing import run_and_export

    database, tenant = _open(args)
    try:
        with database.unit_of_work(hub=True) as uow:
            run = run_and_export(
                uow, uow.tenants.ensure(tenant), args.cycle, reaggregate=args.reaggregate
            )
    finally:
        database.dispose()
    r = run.result
    print(json.dumps({"tenant": tenant, "cycle": r.cycle, "usage_points": r.usage_points,
                      "ready": r.ready, "held": r.held, "exported": run.exported}))  # fmt: skip
    return 0


def _prepaid_feed(args: argparse.Namespace) -> int:
    from cimhub.handlers.prepaid_feed import feed_day
    from cimhub.store.billing_config import BillingConfigs

    database, tenant = _open(args)
    try:
        with database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.ensure(tenant)
            zone = BillingConfigs(uow).current(tenant_id).zone
            day = args.day or datetime.now(zone).date() - timedelta(days=1)
            result = feed_day(uow, tenant_id, day)
    finally:
        database.dispose()
    print(json.dumps({"tenant": tenant, "day": day.isoformat(), "sent": result.sent}))
    return 0


def _export(args: argparse.Namespace) -> int:
    from cimhub.store.billing import determinants

    database, tenant = _open(args)
    try:
        with database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.find(tenant)
            rows = determinants(uow, tenant_id, cycle=args.cycle) if tenant_id else []
    finally:
        database.dispose()
    write_csv(sys.stdout, rows)
    return 0


def csv_row(item: dict[str, Any]) -> dict[str, Any]:
    """One stored determinant row flattened for CSV."""
    d = item["data"]
    md_kw, md_kva = d.get("md_kw") or {}, d.get("md_kva") or {}
    return {
        "usage_point": item["mrid"],
        "consumer_number": item["consumer_number"],
        "cycle": item["cycle"],
        "ready": item["ready"],
        "reason": item["reason"],
        **{k: d.get(k) for k in CSV_COLUMNS[5:10]},
        "md_kw": md_kw.get("value"),
        "md_kw_at": md_kw.get("ts"),
        "md_kva": md_kva.get("value"),
        "md_kva_at": md_kva.get("ts"),
        **{k: d.get(k) for k in CSV_COLUMNS[14:22]},
        "tou_kwh_import": json.dumps(d["tou"].get("kwh_import", {})),
    }


def write_csv(out: Any, rows: list[dict[str, Any]]) -> None:
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_row(r) for r in rows)
