"""Assessed consumption of points without a working meter: the daily job and the re-run.

The serving hub assesses, once a day, the last ``RECENT_DAYS`` complete local days of
every tenant (a missed day is caught up; an unchanged day stores nothing);
``cimhub vee non-metered`` assesses any period again (after a load, hours or factor
changed, or a meter removal was recorded late). The caller's ``announce`` sends what
changed to MeterReadings subscribers as ``changed``, in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from cimhub.handlers.reading_ingest import vee_service
from cimhub.store.assessments import assess_period
from cimhub.vee.batch import DAY

if TYPE_CHECKING:
    from cimhub.settings import Settings
    from cimhub.store.database import Database
    from cimhub.store.unit_of_work import UnitOfWork

#: (unit of work, tenant id, tenant code) → subscriptions told
Announce = Callable[["UnitOfWork", int, str], int]
RECENT_DAYS = 2
ACTOR = "cimhub"


def assess(
    database: Database,
    settings: Settings,
    tenant: str,
    start: int,
    end: int,
    *,
    actor: str = ACTOR,
    now: int | None = None,
    announce: Announce | None = None,
) -> dict[str, Any]:
    """Assess one tenant's local days ending in (start, end]; what was done."""
    now = int(time.time()) if now is None else now
    with database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(tenant)
        config = vee_service(settings).for_tenant(uow, tenant_id, tenant).config
        run = assess_period(uow, tenant_id, tenant, config, start, end, now=now, actor=actor)
        announced = announce(uow, tenant_id, tenant) if announce else 0
    stored = asdict(run.stored)
    return {"usage_points": run.usage_points, "days": run.days, "kwh": run.kwh, **stored,
            "announced": announced, "no_load": run.no_load}  # fmt: skip


def assess_recent(
    database: Database, settings: Settings, at: int | None = None, announce: Announce | None = None
) -> dict[str, dict[str, Any]]:
    """Every tenant's last ``RECENT_DAYS`` complete local days (the scheduled job)."""
    at = int(time.time()) if at is None else at
    with database.unit_of_work(hub=True) as uow:
        tenants = [t.code for t in uow.tenants.all()]
    done = {}
    for tenant in tenants:
        offset = vee_service(settings).config.params(tenant).utc_offset_minutes * 60
        midnight = (at + offset) // DAY * DAY - offset
        done[tenant] = assess(
            database, settings, tenant, midnight - RECENT_DAYS * DAY, midnight, now=at,
            announce=announce,
        )  # fmt: skip
    return done
