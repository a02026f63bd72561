"""VEE's `cimhub` commands: `vee rerun`, `vee report` (daily failures), `vee findings`,
`vee non-metered` (assessed consumption of points without a working meter).

A re-run that changes validated values refreshes billing's daily aggregates of the
re-run meters and period in the same transaction.

Dates are local days of the tenant (VEE's ``utc_offset_minutes``, IST by default);
times may be any ISO 8601 instant with a zone. Output of report and findings is JSON.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from cimhub.settings import Settings


def add_commands(commands: Any) -> None:
    """Register `vee` on the top-level subparsers of `cimhub`."""
    vee = commands.add_parser("vee", help="validation, estimation, editing: re-run, reports")
    actions = vee.add_subparsers(required=True, metavar="ACTION")
    rerun = actions.add_parser(
        "rerun", help="validate stored raw readings again (e.g. after a rule change)"
    )
    _scope(rerun)
    rerun.add_argument("--start", required=True, help="period start (ISO instant or YYYY-MM-DD)")
    rerun.add_argument("--end", required=True, help="period end (ISO instant or YYYY-MM-DD)")
    rerun.set_defaults(run=_rerun)
    report = actions.add_parser("report", help="the daily VEE failures report (JSON)")
    report.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    report.add_argument("--day", required=True, help="local day YYYY-MM-DD")
    report.set_defaults(run=_report)
    findings = actions.add_parser("findings", help="findings by meter, rule and period (JSON)")
    _scope(findings)
    findings.add_argument("--rule", action="append", help="rule id (repeatable)")
    findings.add_argument("--start", help="period start")
    findings.add_argument("--end", help="period end")
    findings.set_defaults(run=_findings)
    assess = actions.add_parser(
        "non-metered",
        help="assess points without a working meter: load × hours × load factor per day",
    )
    assess.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    assess.add_argument("--period", help="billing cycle YYYY-MM (the tenant's cycle day)")
    assess.add_argument("--start", help="period start (ISO instant or YYYY-MM-DD)")
    assess.add_argument("--end", help="period end (ISO instant or YYYY-MM-DD)")
    assess.add_argument("--user", default="cli", help="who asked (for the audit trail)")
    assess.set_defaults(run=_non_metered)


def _scope(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", help="tenant code (default: CIMHUB_DEFAULT_TENANT)")
    parser.add_argument(
        "--meter", action="append", help="meter mRID or name (repeatable; default: every meter)"
    )


@contextmanager
def _opened() -> Iterator[tuple[Any, Settings]]:
    """The store (disposed of on the way out, however the command ends) and the settings."""
    from cimhub.store.database import Database

    settings = Settings()
    with Database(settings.database_url) as database:
        database.upgrade()
        yield database, settings


def _instant(text: str, offset_minutes: int) -> int:
    """An ISO instant, or a local day (its local midnight)."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        midnight = datetime(day.year, day.month, day.day)
        return int((midnight - datetime(1970, 1, 1)).total_seconds()) - offset_minutes * 60
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _meters(uow: Any, tenant_id: int, refs: list[str] | None) -> list[int]:
    from sqlalchemy import select

    from cimhub.domain.reading import MeterRef
    from cimhub.store.models import Meter

    if not refs:
        rows = uow.session.execute(select(Meter.id).where(Meter.tenant_id == tenant_id))
        return sorted(r[0] for r in rows)
    found = uow.meters.find(tenant_id, [MeterRef(r, (r,)) for r in refs])
    missing = [r for r, m in zip(refs, found, strict=True) if m is None]
    if missing:
        raise SystemExit(f"unknown meter(s): {', '.join(missing)}")
    return [m for m in found if m is not None]


def _rerun(args: argparse.Namespace) -> int:
    with _opened() as (database, settings):
        done = _rerun_on(database, settings, args)
    print(json.dumps(done))
    return 0


def _rerun_on(database: Any, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from cimhub.bus.outbox import announce_validated
    from cimhub.handlers.meter_readings import vee_service
    from cimhub.store.daily_aggregates import refresh
    from cimhub.store.vee import RERUN_CHUNK

    tenant = args.tenant or settings.default_tenant
    with database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(tenant)
        meters = _meters(uow, tenant_id, args.meter)
        in_force = vee_service(settings).for_tenant(uow, tenant_id, tenant)  # stored overrides
    service = vee_service(settings)  # its runs apply the tenant's stored overrides
    offset = in_force.config.params(tenant).utc_offset_minutes
    start, end = _instant(args.start, offset), _instant(args.end, offset)
    totals = dict.fromkeys(("readings", "findings", "new_findings", "changed", "inserted"), 0)
    totals["daily_aggregates"] = totals["announced"] = 0
    run_id = f"vee-rerun-{uuid.uuid4()}"  # the CorrelationID of the events it publishes
    for i in range(0, len(meters), RERUN_CHUNK):
        with database.unit_of_work(hub=True) as uow:
            chunk = meters[i : i + RERUN_CHUNK]
            run = service.rerun(uow, tenant_id, tenant, chunk, start, end, now=int(time.time()))
            if run.stored.changed or run.stored.inserted:  # billing sees the new versions
                totals["daily_aggregates"] += refresh(
                    uow, tenant_id, [(m, start, end) for m in chunk]
                )
            # ... and subscribers get them as MeterReadings `changed`, with this transaction
            totals["announced"] += announce_validated(uow, tenant_id, tenant, run_id)
        totals["readings"] += run.readings
        totals["findings"] += run.findings
        totals["new_findings"] += run.new_findings
        totals["changed"] += run.stored.changed
        totals["inserted"] += run.stored.inserted
    return {"tenant": tenant, "meters": len(meters), **totals}


def _non_metered(args: argparse.Namespace) -> int:
    from cimhub.bus.outbox import announce_validated
    from cimhub.handlers.assessments import assess

    run_id = f"vee-non-metered-{uuid.uuid4()}"  # the CorrelationID of the values announced

    def announce(uow: Any, tenant_id: int, code: str) -> int:
        return announce_validated(uow, tenant_id, code, run_id)

    with _opened() as (database, settings):
        tenant = args.tenant or settings.default_tenant
        start, end = _period(database, settings, tenant, args)
        done = assess(database, settings, tenant, start, end, actor=args.user, announce=announce)
    print(json.dumps({"tenant": tenant, "start": start, "end": end, **done}))
    return 0


def _period(
    database: Any, settings: Settings, tenant: str, args: argparse.Namespace
) -> tuple[int, int]:
    from cimhub.handlers.meter_readings import vee_service

    if args.period:
        return _cycle(database, tenant, args.period)
    if args.start and args.end:
        offset = vee_service(settings).config.params(tenant).utc_offset_minutes
        return _instant(args.start, offset), _instant(args.end, offset)
    raise SystemExit("give --period YYYY-MM, or --start and --end")


def _cycle(database: Any, tenant: str, name: str) -> tuple[int, int]:
    """The UTC bounds of the tenant's billing cycle ``name``."""
    from cimhub.billing.cycle import parse_cycle
    from cimhub.errors import InvalidValueError
    from cimhub.store.billing_config import BillingConfigs

    with database.unit_of_work(hub=True) as uow:
        config = BillingConfigs(uow).current(uow.tenants.ensure(tenant))
    try:
        return parse_cycle(name, config.cycle_day).bounds(config.zone)
    except InvalidValueError as exc:
        raise SystemExit(f"--period: {exc}") from exc


def _report(args: argparse.Namespace) -> int:
    from cimhub.handlers.meter_readings import vee_service
    from cimhub.store.vee import failures_report

    with _opened() as (database, settings):
        tenant = args.tenant or settings.default_tenant
        offset = vee_service(settings).config.params(tenant).utc_offset_minutes
        start = _instant(args.day, offset)
        with database.unit_of_work(hub=True) as uow:
            report = failures_report(uow, uow.tenants.ensure(tenant), start, start + 86_400)
    print(json.dumps({"tenant": tenant, "day": args.day, **report}, indent=2))
    return 0


def _findings(args: argparse.Namespace) -> int:
    from cimhub.handlers.meter_readings import vee_service
    from cimhub.store.findings import FindingRepository

    with _opened() as (database, settings):
        tenant = args.tenant or settings.default_tenant
        offset = vee_service(settings).config.params(tenant).utc_offset_minutes
        with database.unit_of_work(hub=True) as uow:
            tenant_id = uow.tenants.ensure(tenant)
            meters = _meters(uow, tenant_id, args.meter) if args.meter else None
            found = FindingRepository(uow).query(
                tenant_id,
                meter_ids=meters,
                rules=args.rule,
                start=_instant(args.start, offset) if args.start else None,
                end=_instant(args.end, offset) if args.end else None,
            )
    for f in found:
        print(json.dumps({name: getattr(f, name) for name in f.__slots__}))
    return 0
