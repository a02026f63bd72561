"""Writing the outbox in the handler's transaction: events for subscribers, async replies.

One row per (event, subscription), so each subscription's delivery is its own unit of work
and a slow subscriber never holds up another. MeterReadings events do not copy the
readings: the row names the message, its meters and time range, and the relay reads what
that message stored (the raw layer today; VEE's validated layer when it lands).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cimhub.bus.pipeline import Accepted
from cimhub.mappings.meter_readings import read_meter_readings
from cimhub.message.reply import Outcome, Result
from cimhub.message.verb import Noun, Verb
from cimhub.store.outbox import Kind, OutboxRepository
from cimhub.store.subscriptions import Subscription, SubscriptionRepository
from cimhub.store.unit_of_work import UnitOfWork

READINGS = Noun.METER_READINGS.value
#: Subscriptions are re-read this often (other processes may change them).
CACHE_SECONDS = 2.0
_QUIET = (Verb.GET, Verb.REPLY)


class OutboxAnnouncer:
    def __init__(self, on_written: Callable[[], None] = lambda: None) -> None:
        self._on_written = on_written
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Subscription]] | None = None

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _subscriptions(self, uow: UnitOfWork) -> list[Subscription]:
        with self._lock:
            if self._cached and time.monotonic() < self._cached[0]:
                return self._cached[1]
        subs = [s for s in SubscriptionRepository(uow).all() if s.active]
        with self._lock:
            self._cached = (time.monotonic() + CACHE_SECONDS, subs)
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
        outbox = OutboxRepository(uow)
        wrote = False
        if accepted.wants_async_reply:
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
            wrote |= self._events(uow, outbox, tenant_id, accepted, log_id)
        if wrote:
            uow.on_commit(self._on_written)

    def _events(
        self,
        uow: UnitOfWork,
        outbox: OutboxRepository,
        tenant_id: int,
        accepted: Accepted,
        log_id: int,
    ) -> bool:
        envelope = accepted.envelope
        tenant, noun, verb = accepted.inbound.tenant, envelope.noun, envelope.verb.value
        subs = [s for s in self._subscriptions(uow) if s.matches(tenant, noun, verb)]
        if not subs:
            return False
        headers: dict[str, object] = {"correlation_id": envelope.header.message_id or accepted.key}
        body = None
        if noun == READINGS:
            headers.update(_extent(uow, tenant_id, accepted))
        elif envelope.payload is not None:
            from lxml import etree

            body = etree.tostring(envelope.payload)
        for sub in subs:
            outbox.add(
                tenant_id,
                Kind.EVENT,
                noun=noun,
                verb=verb,
                message_log_id=log_id,
                address=sub.name,
                headers=headers,
                body=body,
            )
        return True


def _extent(uow: UnitOfWork, tenant_id: int, accepted: Accepted) -> dict[str, object]:
    """The meters and time range a MeterReadings message covers."""
    payload = accepted.envelope.payload
    if payload is None:
        return {"meters": [], "first": 0, "last": 0}
    items, _ = read_meter_readings(payload)
    ids = uow.meters.find(tenant_id, [item.meter for item in items])
    series = [s for item in items for s in item.series if len(s.timestamps)]
    return {
        "meters": sorted({i for i in ids if i is not None}),
        "first": min((min(s.timestamps) for s in series), default=0),
        "last": max((max(s.timestamps) for s in series), default=0),
    }
