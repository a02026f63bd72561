"""Writing the outbox in the handler's transaction: events for subscribers, async replies.

One row per (event, subscription), so each subscription's delivery is its own unit of work
and a slow subscriber never holds up another; a subscription whose reading-type or
event-type filter the message cannot pass gets no row.

* MeterReadings: the validated values this message's transaction stored new or changed
  (after VEE, with their quality codes), in a compact JSON body; with VEE off, the row
  names the message, its meters and time range, and the relay reads back the raw readings
  that message stored. A resend that changes nothing announces nothing.
* EndDeviceEvents: the row names the message, its meters and time range; the relay reads
  back the events that message stored (repeats dropped) of the subscription's types.
  Validated values such a message changed besides (readings re-judged when its power
  events changed an outage) go out as MeterReadings ``changed``.
* other nouns: the payload as received.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from cimhub.bus.pipeline import Accepted
from cimhub.mappings.end_device_events import read_end_device_events
from cimhub.mappings.meter_readings import read_meter_readings
from cimhub.message.reply import Outcome, Result
from cimhub.message.verb import Noun, Verb
from cimhub.store.outbox import VALIDATED, Kind, OutboxRepository
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.store.unit_of_work import UnitOfWork
from cimhub.store.validated import Row, take_applied

READINGS = Noun.METER_READINGS.value
EVENTS = Noun.END_DEVICE_EVENTS.value
#: Subscriptions are re-read this often (other processes may change them).
CACHE_SECONDS = 2.0
_QUIET = (Verb.GET, Verb.REPLY)


class OutboxAnnouncer:
    def __init__(
        self, on_written: Callable[[], None] = lambda: None, *, vee_enabled: bool = True
    ) -> None:
        self._on_written = on_written
        self._vee_enabled = vee_enabled
        self._lock = threading.Lock()
        #: by tenant id (None: hub-wide): each tenant's scope sees its own subscriptions
        self._cached: dict[int | None, tuple[float, list[Subscription]]] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._cached = {}

    def _subscriptions(self, uow: UnitOfWork) -> list[Subscription]:
        tenant_id = uow.tenant_id
        with self._lock:
            cached = self._cached.get(tenant_id)
            if cached and time.monotonic() < cached[0]:
                return cached[1]
        subs = [s for s in _subscriptions_of(uow, tenant_id) if s.active]
        with self._lock:
            self._cached[tenant_id] = (time.monotonic() + CACHE_SECONDS, subs)
        return subs

    def announce(
        self,
        uow: UnitOfWork,
        tenant_id: int,
        accepted: Accepted,
        outcome: Outcome,
        log_id: int,
        reply: bytes,
    ) -> None:
        envelope = accepted.envelope
        # always taken: the next message of a batch starts clean (a group's rows were
        # filed per message by its handler)
        validated = take_applied(uow, log_id)
        outbox = OutboxRepository(uow)
        wrote = False
        if accepted.wants_async_reply and not outcome.deferred:
            outbox.add(
                tenant_id,
                Kind.REPLY,
                noun=envelope.noun,
                verb=Verb.REPLY.value,
                message_log_id=log_id,
                address=envelope.header.reply_address,
                body=reply,
            )
            wrote = True
        if outcome.result is not Result.FAILED and envelope.verb not in _QUIET:
            subs = self._subscriptions(uow)
            tenant = accepted.inbound.tenant
            # nothing to work out (re-reading the payload, say) when no one listens
            if any(s.matches(tenant, envelope.noun, envelope.verb.value) for s in subs):
                announcement = self._announcement(uow, tenant_id, accepted, validated)
                if announcement is not None:
                    wrote |= self._events(uow, outbox, tenant_id, accepted, log_id, announcement)
            if validated and envelope.noun != READINGS:  # re-judged as a side effect
                changed = _validated(uow, validated)
                wrote |= self._events(uow, outbox, tenant_id, accepted, log_id, changed, READINGS)
        if wrote:
            uow.on_commit(self._on_written)

    def _announcement(
        self, uow: UnitOfWork, tenant_id: int, accepted: Accepted, validated: list[Row]
    ) -> Announcement | None:
        """What the message's events carry, or None when there is nothing to announce."""
        envelope = accepted.envelope
        if envelope.noun == READINGS:
            if validated:
                return _validated(uow, validated)
            if self._vee_enabled:  # VEE ran and changed nothing: a resend
                return None
            extent = _extent(uow, tenant_id, accepted)
            return Announcement(extent, None, reading_types=extent.pop("reading_types"))
        if envelope.noun == EVENTS:
            extent = _event_extent(uow, tenant_id, accepted)
            return Announcement(extent, None, event_types=extent.pop("event_types"))
        if envelope.payload is None:
            return None
        return Announcement({}, etree.tostring(envelope.payload))

    def _events(
        self,
        uow: UnitOfWork,
        outbox: OutboxRepository,
        tenant_id: int,
        accepted: Accepted,
        log_id: int,
        announcement: Announcement,
        noun: str | None = None,
    ) -> bool:
        """The message's events; with ``noun``, validated values it changed besides
        (MeterReadings ``changed``, e.g. readings an EndDeviceEvents message re-judged)."""
        envelope = accepted.envelope
        correlation = envelope.header.message_id or accepted.key
        subs = self._subscriptions(uow)
        return bool(
            write_events(
                outbox,
                subs,
                tenant_id,
                accepted.inbound.tenant,
                noun or envelope.noun,
                Verb.CHANGED.value if noun else envelope.verb.value,
                announcement,
                log_id=log_id,
                correlation=correlation,
            )
        )


def write_events(
    outbox: OutboxRepository,
    subscriptions: list[Subscription],
    tenant_id: int,
    tenant: str,
    noun: str,
    verb: str,
    announcement: Announcement,
    *,
    log_id: int | None,
    correlation: str,
) -> int:
    """One outbox row per subscription that matches and whose filters let it through."""
    subs = [
        s
        for s in subscriptions
        if s.matches(tenant, noun, verb)
        and s.wants(reading_types=announcement.reading_types, event_types=announcement.event_types)
    ]
    headers = {"correlation_id": correlation, **announcement.headers}
    for sub in subs:
        outbox.add(
            tenant_id,
            Kind.EVENT,
            noun=noun,
            verb=verb,
            message_log_id=log_id,
            address=sub.name,
            headers=headers,
            body=announcement.body,
        )
    return len(subs)


def announce_validated(uow: UnitOfWork, tenant_id: int, tenant: str, correlation: str) -> int:
    """Validated values this transaction changed outside any message (a VEE rerun, say)
    as MeterReadings ``changed`` events; how many subscriptions get them."""
    rows = take_applied(uow)
    if not rows:
        return 0
    subs = [s for s in SubscriptionRepository(uow).for_tenant(tenant_id) if s.active]
    announcement = _validated(uow, rows)
    outbox, verb = OutboxRepository(uow), Verb.CHANGED.value
    return write_events(
        outbox,
        subs,
        tenant_id,
        tenant,
        READINGS,
        verb,
        announcement,
        log_id=None,
        correlation=correlation,
    )


def _subscriptions_of(uow: UnitOfWork, tenant_id: int | None) -> list[Subscription]:
    repo = SubscriptionRepository(uow)
    return repo.all() if tenant_id is None else repo.for_tenant(tenant_id)


@dataclass(frozen=True, slots=True)
class Announcement:
    """An event's outbox headers and body, and the types subscription filters look at
    (None: not a message those filters apply to)."""

    headers: dict[str, object]
    body: bytes | None
    reading_types: frozenset[str] | None = None
    event_types: frozenset[str] | None = None


def _validated(uow: UnitOfWork, rows: list[Row]) -> Announcement:
    """The validated values a transaction stored, as the body of its events."""
    codes = uow.reading_types.codes_for({r.reading_type_id for r in rows})
    latest = {(r.meter_id, r.reading_type_id, r.ts): r for r in rows}  # last write wins
    readings = [
        [r.kind, r.meter_id, codes[r.reading_type_id], r.ts, r.value, r.quality]
        for _, r in sorted(latest.items())
    ]
    body = json.dumps({"readings": readings}, separators=(",", ":")).encode()
    return Announcement({"layer": VALIDATED}, body, reading_types=frozenset(codes.values()))


def _extent(uow: UnitOfWork, tenant_id: int, accepted: Accepted) -> dict[str, object]:
    """The meters, time range and reading types a MeterReadings message covers."""
    payload = accepted.envelope.payload
    if payload is None:
        return {"meters": [], "first": 0, "last": 0, "reading_types": frozenset()}
    items, _ = read_meter_readings(payload)
    ids = uow.meters.find(tenant_id, [item.meter for item in items])
    series = [s for item in items for s in item.series if len(s.timestamps)]
    return {
        "meters": sorted({i for i in ids if i is not None}),
        "first": min((min(s.timestamps) for s in series), default=0),
        "last": max((max(s.timestamps) for s in series), default=0),
        "reading_types": frozenset(s.reading_type for s in series),
    }


def _event_extent(uow: UnitOfWork, tenant_id: int, accepted: Accepted) -> dict[str, object]:
    """The meters, time range and event types an EndDeviceEvents message covers."""
    payload = accepted.envelope.payload
    if payload is None:
        return {"meters": [], "first": 0, "last": 0, "event_types": frozenset()}
    items, _ = read_end_device_events(payload)
    ids = uow.meters.find(tenant_id, [item.event.meter for item in items])
    stamps = [item.event.created for item in items]
    return {
        "meters": sorted({i for i in ids if i is not None}),
        "first": min(stamps, default=0),
        "last": max(stamps, default=0),
        "event_types": frozenset(item.event.event_type for item in items),
    }
