"""The daily feed to the prepaid engine (seed 002 use case 1.4; Consumer Rights Amendment
Rules 2023: prepaid consumers get their consumption at least daily).

For one local day, each prepaid usage point's kWh import and export, in total and per TOU
bucket (daily ReadingTypes, macroPeriod 11), go as MeterReadings through the outbox to every
prepaid subscriber: an active MeterReadings `created` subscription naming at least one daily
ReadingType (it gets only the ReadingTypes it names). Idempotent per (usage point, day,
subscriber): a re-run sends nothing new; a day whose figures (those the subscriber takes)
changed since it was sent (late data, a VEE edit re-aggregating the day) is sent again, as
`changed` when the subscription takes `changed`, else as `created` with the same
ReadingTypes and timestamp (the receiver overwrites). Usage points without any aggregate
that day are not sent (nothing to report).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lxml import etree

from cimhub.billing.cycle import day_start
from cimhub.billing.reading_types import is_daily
from cimhub.domain.reading import MeterRef
from cimhub.mappings.determinant_readings import daily_series, write_determinants
from cimhub.mappings.meter_readings import SeriesOut
from cimhub.message.verb import Noun, Verb
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.outbox import Kind, OutboxRepository
from cimhub.store.prepaid_feed import PrepaidDay, prepaid_days, record, sent
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.store.unit_of_work import UnitOfWork

NOUN = Noun.METER_READINGS.value
#: usage points per message
CHUNK = 500


@dataclass(slots=True)
class FeedResult:
    tenant: str
    day: date
    #: subscription → {"created": n, "changed": n} usage points sent
    sent: dict[str, dict[str, int]] = field(default_factory=dict)


def prepaid_subscribers(uow: UnitOfWork, tenant: str) -> list[Subscription]:
    """Active MeterReadings `created` subscriptions that name a daily ReadingType."""
    return [
        s
        for s in SubscriptionRepository(uow).all()
        if s.active
        and s.matches(tenant, NOUN, Verb.CREATED.value)
        and any(is_daily(code) for code in s.reading_types)
    ]


def feed_day(uow: UnitOfWork, tenant_id: int, day: date) -> FeedResult:
    """Send ``day`` (a local day of the tenant) to every prepaid subscriber, once."""
    tenant = uow.tenants.code_of(tenant_id)
    result = FeedResult(tenant, day)
    subs = prepaid_subscribers(uow, tenant)
    if not subs:
        return result
    config = BillingConfigs(uow).current(tenant_id)
    end = day_start(day + timedelta(days=1), config.zone)
    points = prepaid_days(uow, tenant_id, day, subtract_check=config.subtract_check_meters)
    series = {p.usage_point_id: _series(p, end) for p in points}
    names = uow.meters.describe(tenant_id, {p.meter_id for p in points} - {None})
    headers = {"correlation_id": f"prepaid-{tenant}-{day}", "prepaid_day": day.isoformat()}
    for sub in subs:
        known = sent(uow, tenant_id, day, sub.name)
        wanted = {c for c in sub.reading_types if is_daily(c)}
        digests = {up: _digest([x for x in s if x.reading_type in wanted])
                   for up, s in series.items()}  # fmt: skip
        todo = [p for p in points if known.get(p.usage_point_id) != digests[p.usage_point_id]]
        changed = [p for p in todo if p.usage_point_id in known]
        created = [p for p in todo if p.usage_point_id not in known]
        verb = Verb.CHANGED if sub.matches(tenant, NOUN, Verb.CHANGED.value) else Verb.CREATED
        for items, how in ((created, Verb.CREATED), (changed, verb)):
            _send(uow, tenant_id, sub, items, how, series, names, headers)
        record(uow, tenant_id, day, sub.name, {p.usage_point_id: digests[p.usage_point_id]
                                               for p in todo}, known)  # fmt: skip
        result.sent[sub.name] = {"created": len(created), "changed": len(changed)}
    return result


def feed_due(uow: UnitOfWork, now: datetime) -> list[FeedResult]:
    """Every tenant's due days: yesterday (local) once past its feed hour, and the days
    before it within the look-back (late edits re-sent); what was sent is skipped."""
    results = []
    for tenant in uow.tenants.all():
        config = BillingConfigs(uow).current(tenant.id)
        local = now.astimezone(config.zone)
        if local.hour < config.prepaid_feed_hour:
            continue
        yesterday = local.date() - timedelta(days=1)
        for back in range(config.prepaid_feed_lookback_days, -1, -1):
            results.append(feed_day(uow, tenant.id, yesterday - timedelta(days=back)))
    return results


def _series(point: PrepaidDay, end: int) -> list[SeriesOut]:
    d = point.determinants
    return daily_series(d.summary(), end, estimated=d.estimated > 0)


def _digest(series: Sequence[SeriesOut]) -> str:
    body = json.dumps([(s.reading_type, list(s.values), list(s.qualities)) for s in series])
    return hashlib.sha256(body.encode()).hexdigest()


def _send(
    uow: UnitOfWork,
    tenant_id: int,
    sub: Subscription,
    points: Sequence[PrepaidDay],
    verb: Verb,
    series: dict[int, list[SeriesOut]],
    names: dict[int, MeterRef],
    headers: dict[str, str],
) -> None:
    wanted = {c for c in sub.reading_types if is_daily(c)}
    for first in range(0, len(points), CHUNK):
        items = [
            (
                names.get(p.meter_id or 0, MeterRef(mrid=p.mrid)),
                p.mrid,
                series[p.usage_point_id],
            )
            for p in points[first : first + CHUNK]
        ]
        OutboxRepository(uow).add(
            tenant_id,
            Kind.EVENT,
            noun=NOUN,
            verb=verb.value,
            address=sub.name,
            headers=headers,
            body=etree.tostring(write_determinants(items, wanted)),
        )
