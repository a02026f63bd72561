"""Billing determinants out: the cycle run with its export to billing subscribers through
the outbox (exactly once per usage point, cycle and subscriber), and GetMeterReadings
answered from stored determinants when every ReadingType asked for is a billing-period one
(use case 2.1: billing asks, the MDM answers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from sqlalchemy import select

from cimhub.billing.reading_types import is_determinant
from cimhub.domain.reading import MeterRef
from cimhub.handlers.registry import HandlerContext
from cimhub.mappings.determinant_readings import determinant_series, write_determinants
from cimhub.mappings.reading_query import ReadingQuery
from cimhub.message.reply import Outcome, ReplyError, Result
from cimhub.message.verb import Noun, Verb
from cimhub.store.billing import CycleResult, determinants, run_cycle
from cimhub.store.billing_models import BillingExport
from cimhub.store.bulk import insert_rows
from cimhub.store.models import now as clock
from cimhub.store.outbox import Kind, OutboxRepository
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.store.unit_of_work import UnitOfWork

NOUN = Noun.METER_READINGS.value
#: usage points per exported message
CHUNK = 500
E = BillingExport.__table__


@dataclass(slots=True)
class BillingRun:
    result: CycleResult
    exported: dict[str, int] = field(default_factory=dict)  #: subscription → usage points


def billing_subscribers(uow: UnitOfWork, tenant: str) -> list[Subscription]:
    """Active MeterReadings `created` subscriptions that name a determinant ReadingType."""
    return [
        s
        for s in SubscriptionRepository(uow).all()
        if s.active
        and s.matches(tenant, NOUN, Verb.CREATED.value)
        and any(is_determinant(code) for code in s.reading_types)
    ]


def run_and_export(
    uow: UnitOfWork, tenant_id: int, cycle: str, *, reaggregate: bool = False
) -> BillingRun:
    """Run the cycle, then hand the bill-ready usage points not yet sent to each billing
    subscriber to the outbox (the relay delivers them after commit)."""
    run = BillingRun(run_cycle(uow, tenant_id, cycle, reaggregate=reaggregate))
    tenant = uow.tenants.code_of(tenant_id)
    subs = billing_subscribers(uow, tenant)
    if not subs:
        return run
    rows = [r for r in determinants(uow, tenant_id, cycle=cycle) if r["ready"]]
    names = uow.meters.describe(tenant_id, {r["data"]["meter_id"] for r in rows} - {None})
    for sub in subs:
        done = _exported(uow, tenant_id, cycle, sub.name)
        todo = [r for r in rows if r["usage_point_id"] not in done]
        wanted = {c for c in sub.reading_types if is_determinant(c)}
        for first in range(0, len(todo), CHUNK):
            part = todo[first : first + CHUNK]
            payload = write_determinants(_items(part, names), wanted)
            OutboxRepository(uow).add(
                tenant_id,
                Kind.EVENT,
                noun=NOUN,
                verb=Verb.CREATED.value,
                address=sub.name,
                headers={"correlation_id": f"billing-{tenant}-{cycle}", "billing_cycle": cycle},
                body=etree.tostring(payload),
            )
        stamp = clock()
        insert_rows(
            uow,
            E,
            [
                {
                    "tenant_id": tenant_id,
                    "cycle": cycle,
                    "subscription": sub.name,
                    "usage_point_id": r["usage_point_id"],
                    "exported_at": stamp,
                }
                for r in todo
            ],
        )
        run.exported[sub.name] = len(todo)
    return run


def _exported(uow: UnitOfWork, tenant_id: int, cycle: str, sub: str) -> set[int]:
    stmt = select(E.c.usage_point_id).where(
        E.c.tenant_id == tenant_id, E.c.cycle == cycle, E.c.subscription == sub
    )
    return set(uow.session.execute(stmt).scalars())


def _items(
    rows: Sequence[dict[str, Any]], names: dict[int, MeterRef]
) -> list[tuple[MeterRef, str, list[Any]]]:
    return [
        (
            names.get(r["data"]["meter_id"], MeterRef(mrid=r["mrid"])),
            r["mrid"],
            determinant_series(r),
        )
        for r in rows
    ]


def answer_determinants(ctx: HandlerContext, query: ReadingQuery) -> Outcome | None:
    """A GetMeterReadings for determinant ReadingTypes only, by usage point or meter;
    None for any other query (the readings handler answers it)."""
    if not query.reading_types or not all(is_determinant(c) for c in query.reading_types):
        return None
    uow, errors = ctx.uow, []
    ids: set[int] = set()
    found = uow.usage_points.match(ctx.tenant_id, {r.key for r in query.usage_points}, narrow=True)
    for ref in query.usage_points:
        if ref.key in found:
            ids.add(found[ref.key].id)
        else:
            errors.append(ReplyError("2.15", f"unknown UsagePoint {ref.key!r}", object_id=ref.key))
    meter_ids = {m for m in uow.meters.find(ctx.tenant_id, query.meters) if m is not None}
    rows = determinants(
        uow,
        ctx.tenant_id,
        ended_after=query.start,
        ended_by=query.end,
        usage_point_ids=None if not (query.usage_points or query.meters) else sorted(ids),
    )
    if meter_ids:
        rows += [
            r
            for r in determinants(uow, ctx.tenant_id, ended_after=query.start, ended_by=query.end)
            if r["data"].get("meter_id") in meter_ids and r["usage_point_id"] not in ids
        ]
    names = uow.meters.describe(ctx.tenant_id, {r["data"]["meter_id"] for r in rows} - {None})
    payload = write_determinants(_items(rows, names), set(query.reading_types))
    outcome = Outcome(payload=payload)
    if errors:
        outcome.result, outcome.errors = (Result.PARTIAL if rows else Result.FAILED), errors
    return outcome
