"""EndDeviceEvents: created/create from head-ends (stored, outages re-derived) and get.

A repeated event (same tenant, meter, type and createdDateTime) is dropped quietly; an
event whose type is no CIM code in a known domain is stored as unmapped and reported with
an INFORM entry; an event that cannot be stored (unknown meter, no time) is rejected on
its own (PARTIAL). When power events change a meter's outages, or RCD-switch events its
relay periods, the readings of the days they touch are validated again
(``handlers.outage_vee``).
"""

from __future__ import annotations

import base64
import json

from cimhub.domain.event import POWER_OFF, POWER_ON
from cimhub.domain.relay import SWITCH_EVENTS
from cimhub.errors import InvalidQueryError, Level, PayloadError
from cimhub.handlers.commands import close_by_events
from cimhub.handlers.dt_outages import raise_dt_outages
from cimhub.handlers.exceptions import Exceptions
from cimhub.handlers.outage_vee import merged, rejudge, switched
from cimhub.handlers.registry import HandlerContext, Registry
from cimhub.mappings.end_device_events import (
    EventItem,
    read_end_device_events,
    read_event_query,
    write_end_device_events,
)
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome, ReplyError, Result
from cimhub.message.verb import Noun, Verb
from cimhub.store.events import EventRepository

NOUN = Noun.END_DEVICE_EVENTS.value
UNMAPPED = "2.5"


def register(registry: Registry) -> None:
    registry.register(NOUN, (Verb.CREATED, Verb.CREATE), ingest)
    registry.register(NOUN, (Verb.GET,), get)


def ingest(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """Store every valid EndDeviceEvent; reject the faulty ones one by one (PARTIAL)."""
    if envelope.payload is None:
        raise PayloadError("EndDeviceEvents message without an EndDeviceEvents payload")
    items, errors = read_end_device_events(envelope.payload)
    if not items and not errors:
        raise PayloadError("the EndDeviceEvents payload holds no EndDeviceEvent")
    accepted = _resolve(ctx, items, errors)
    repo = EventRepository(ctx.uow)
    pairs = [(meter_id, item.event) for meter_id, item in accepted]
    fresh = repo.fresh(ctx.tenant_id, pairs)  # exceptions count each event once
    new = repo.save(
        ctx.tenant_id,
        pairs,
        source=ctx.source,
        message_log_id=ctx.message_log_id,
        received_at=ctx.received_at,
    )
    power = sorted({m for m, e in pairs if e.event_type in (POWER_OFF, POWER_ON)})
    derived = repo.rederive_outages(ctx.tenant_id, power)
    raise_dt_outages(ctx.uow, ctx.tenant_id, power, ctx.settings)  # and tell OMS/CIS
    Exceptions(ctx.uow, ctx.settings).on_events(ctx.tenant_id, fresh)  # tamper, outage, …
    close_by_events(ctx.uow, ctx.tenant_id, fresh, ctx.source)  # a repeat closes nothing
    relay = switched(ctx, {m for m, e in fresh if e.event_type in SWITCH_EVENTS})
    rejudged = rejudge(ctx, merged(derived.changed, relay))  # readings judged before
    notes = [_unmapped(item) for _, item in accepted if not item.event.mapped]
    errors.sort(key=lambda e: e.xpath or "")
    if errors:
        return Outcome(Result.PARTIAL if accepted else Result.FAILED, errors + notes)
    summary = (
        f"{len(accepted)} events: {new} new, {len(accepted) - new} repeated; "
        f"{len(notes)} unmapped; {derived.outages} outage(s) on {len(power)} meter(s)"
        + (f"; VEE: {rejudged} validated value(s) re-judged" if rejudged else "")
    )
    if notes:  # stored, but the sender should know: OK first, then what was not mapped
        return Outcome(errors=[ReplyError("0.0", summary, Level.INFORM), *notes])
    return Outcome(summary=summary)


def _resolve(
    ctx: HandlerContext, items: list[EventItem], errors: list[ReplyError]
) -> list[tuple[int, EventItem]]:
    """Items with their meter id; unknown meters per the tenant's auto-register setting."""
    ids = ctx.uow.meters.resolve(
        ctx.tenant_id,
        [i.event.meter for i in items],
        auto_register=ctx.settings.auto_register_meters,
    )
    accepted = []
    for item, meter_id in zip(items, ids, strict=True):
        if meter_id is None:
            key = item.event.meter.key
            errors.append(
                ReplyError(
                    "2.15", f"unknown meter {key!r}", xpath=f"{item.xpath}/Assets", object_id=key
                )
            )
        else:
            accepted.append((meter_id, item))
    return accepted


def _unmapped(item: EventItem) -> ReplyError:
    event = item.event
    return ReplyError(
        UNMAPPED,
        f"event type {event.event_type!r} is not a known CIM EndDeviceEventType; stored unmapped",
        Level.INFORM,
        xpath=f"{item.xpath}/EndDeviceEventType",
        object_id=event.meter.key,
    )


def get(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """Answer a GetEndDeviceEvents by meter, event type and period."""
    query = read_event_query(envelope)
    errors: list[ReplyError] = []
    meter_ids: list[int] = []
    for ref, found in zip(
        query.meters, ctx.uow.meters.find(ctx.tenant_id, query.meters), strict=True
    ):
        if found is None:
            errors.append(
                ReplyError(
                    "2.15",
                    f"unknown meter {ref.key!r}",
                    xpath="Request/GetEndDeviceEvents/Meter",
                    object_id=ref.key,
                )
            )
        else:
            meter_ids.append(found)
    if not meter_ids:
        return Outcome(Result.FAILED, errors)
    limit = ctx.settings.page_size
    after = _decode(query.continuation) if query.continuation else None
    found_events = EventRepository(ctx.uow).page(
        ctx.tenant_id,
        sorted(set(meter_ids)),
        event_types=query.event_types,
        start=query.start,
        end=query.end,
        after=after,
        limit=limit + 1,
    )
    more = len(found_events) > limit
    found_events = found_events[:limit]
    payload = write_end_device_events(e for _, e in found_events)
    outcome = Outcome(payload=payload, summary=f"{len(found_events)} events")
    if after is not None or more:  # a paged reply: 0.1 while more follow, 0.2 on the last
        outcome.result = Result.PARTIAL
        outcome.code = "0.1" if more else "0.2"
        outcome.continuation = _encode(found_events[-1][0]) if more else None
    if errors:
        outcome.result, outcome.errors = Result.PARTIAL, errors
    return outcome


def _encode(position: tuple[int, int, int]) -> str:
    """A continuation token: where the page stopped (time, meter id, row id)."""
    return base64.urlsafe_b64encode(json.dumps(["events", *position]).encode()).decode()


def _decode(token: str) -> tuple[int, int, int]:
    try:
        kind, ts, meter_id, row_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        if kind != "events":
            raise ValueError(kind)
        return int(ts), int(meter_id), int(row_id)
    except (ValueError, TypeError) as exc:
        raise InvalidQueryError(
            f"continuation token {token!r} is not one this hub issued", xpath="Request/Option"
        ) from exc
