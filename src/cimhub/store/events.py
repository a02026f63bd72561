"""Meter events and their outages: store without repeats, query, re-derive outages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, tuple_

from cimhub.domain.event import POWER_OFF, POWER_ON, Event
from cimhub.domain.outage import (
    DEFAULT_MOMENTARY_SECONDS,
    Outage,
    OutageKind,
    changed_spans,
    derive_outages,
)
from cimhub.domain.reading import MeterRef
from cimhub.store.event_models import EventConfigRow, EventRow, OutageRow
from cimhub.store.models import now
from cimhub.store.sql import insert_ignore, member_of
from cimhub.store.vee_outages import note_reporters

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

Key = tuple[int, str, int]  # meter id, event type, ts


@dataclass(frozen=True, slots=True)
class Rederived:
    """What re-deriving some meters' outages did: how many outages they have now, and per
    meter the periods whose outages changed (None: open to the future)."""

    outages: int = 0
    changed: dict[int, list[tuple[int, int | None]]] = field(default_factory=dict)


class EventRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def save(
        self,
        tenant_id: int,
        events: Sequence[tuple[int, Event]],
        *,
        source: str,
        message_log_id: int | None,
        received_at: int,
    ) -> int:
        """Insert the events not stored yet (by natural key); how many were new."""
        known = self._known(tenant_id, events)
        rows, seen = [], set(known)
        for meter_id, event in events:
            key = (meter_id, event.event_type, event.created)
            if key not in seen:
                seen.add(key)
                rows.append(_row(tenant_id, meter_id, event, source, message_log_id, received_at))
        if rows:
            stmt = insert_ignore(
                EventRow, self._uow.dialect, "tenant_id", "meter_id", "event_type", "ts"
            )
            self._uow.session.execute(stmt, rows)
        return len(rows)

    def fresh(self, tenant_id: int, events: Sequence[tuple[int, Event]]) -> list[tuple[int, Event]]:
        """The events not stored yet, repeats within ``events`` dropped (call before save)."""
        seen = self._known(tenant_id, events)
        out = []
        for meter_id, event in events:
            key = (meter_id, event.event_type, event.created)
            if key not in seen:
                seen.add(key)
                out.append((meter_id, event))
        return out

    def _known(self, tenant_id: int, events: Sequence[tuple[int, Event]]) -> set[Key]:
        if not events:
            return set()
        stamps = [e.created for _, e in events]
        found = self._uow.session.execute(
            select(EventRow.meter_id, EventRow.event_type, EventRow.ts).where(
                EventRow.tenant_id == tenant_id,
                member_of(EventRow.meter_id, {m for m, _ in events}, self._uow.dialect),
                EventRow.ts.between(min(stamps), max(stamps)),
            )
        )
        return {(m, t, ts) for m, t, ts in found}

    def query(
        self,
        tenant_id: int,
        meter_ids: Sequence[int],
        *,
        event_types: Sequence[str] = (),
        start: int | None = None,
        end: int | None = None,
        limit: int | None = None,
    ) -> list[tuple[int, Event]]:
        """Events of these meters in [start, end), oldest first, as (meter id, event)."""
        dialect = self._uow.dialect
        stmt = select(EventRow).where(
            EventRow.tenant_id == tenant_id, member_of(EventRow.meter_id, meter_ids, dialect)
        )
        if event_types:
            stmt = stmt.where(member_of(EventRow.event_type, event_types, dialect))
        if start is not None:
            stmt = stmt.where(EventRow.ts >= start)
        if end is not None:
            stmt = stmt.where(EventRow.ts < end)
        stmt = stmt.order_by(EventRow.ts, EventRow.meter_id, EventRow.id).limit(limit)
        rows = self._uow.session.scalars(stmt).all()
        names = self._uow.meters.describe(tenant_id, {r.meter_id for r in rows})
        return [(r.meter_id, _event(r, names[r.meter_id])) for r in rows]

    def page(
        self,
        tenant_id: int,
        meter_ids: Sequence[int],
        *,
        event_types: Sequence[str] = (),
        start: int | None = None,
        end: int | None = None,
        after: tuple[int, int, int] | None = None,
        limit: int,
    ) -> list[tuple[tuple[int, int, int], Event]]:
        """Like ``query``, keyset-paged: events after the (ts, meter id, row id) position
        ``after``, oldest first, each with its position (a continuation token's content)."""
        dialect = self._uow.dialect
        stmt = select(EventRow).where(
            EventRow.tenant_id == tenant_id, member_of(EventRow.meter_id, meter_ids, dialect)
        )
        if event_types:
            stmt = stmt.where(member_of(EventRow.event_type, event_types, dialect))
        if start is not None:
            stmt = stmt.where(EventRow.ts >= start)
        if end is not None:
            stmt = stmt.where(EventRow.ts < end)
        if after is not None:
            stmt = stmt.where(tuple_(EventRow.ts, EventRow.meter_id, EventRow.id) > tuple_(*after))
        stmt = stmt.order_by(EventRow.ts, EventRow.meter_id, EventRow.id).limit(limit)
        rows = self._uow.session.scalars(stmt).all()
        names = self._uow.meters.describe(tenant_id, {r.meter_id for r in rows})
        return [((r.ts, r.meter_id, r.id), _event(r, names[r.meter_id])) for r in rows]

    def stored_by_message(
        self,
        tenant_id: int,
        message_log_id: int,
        meter_ids: Sequence[int],
        first: int,
        last: int,
        *,
        event_types: Sequence[str] = (),
    ) -> list[Event]:
        """The events one message stored (its repeats of known events were dropped), of
        ``event_types`` when given, oldest first; bounded by its meters and time range."""
        if not meter_ids:
            return []
        dialect = self._uow.dialect
        stmt = select(EventRow).where(
            EventRow.tenant_id == tenant_id,
            member_of(EventRow.meter_id, meter_ids, dialect),
            EventRow.ts.between(first, last),
            EventRow.message_log_id == message_log_id,
        )
        if event_types:
            stmt = stmt.where(member_of(EventRow.event_type, event_types, dialect))
        rows = self._uow.session.scalars(stmt.order_by(EventRow.ts, EventRow.id)).all()
        names = self._uow.meters.describe(tenant_id, {r.meter_id for r in rows})
        return [_event(r, names[r.meter_id]) for r in rows]

    def momentary_seconds(self, tenant_id: int) -> int:
        """The tenant's momentary/sustained threshold (default 5 minutes)."""
        value = self._uow.session.scalar(
            select(EventConfigRow.momentary_seconds).where(EventConfigRow.tenant_id == tenant_id)
        )
        return DEFAULT_MOMENTARY_SECONDS if value is None else value

    def configure(self, tenant_id: int, *, momentary_seconds: int) -> None:
        """Set the tenant's threshold; outages derived later use it."""
        session = self._uow.session
        row = session.get(EventConfigRow, tenant_id)
        if row is None:
            session.add(EventConfigRow(tenant_id=tenant_id, momentary_seconds=momentary_seconds))
        else:
            row.momentary_seconds = momentary_seconds
        session.flush()

    def rederive_outages(self, tenant_id: int, meter_ids: Sequence[int]) -> Rederived:
        """Replace these meters' outages with those derived from all their power events;
        their head-ends are noted as reporting power events from the earliest of them on
        (``store.vee_outages``)."""
        if not meter_ids:
            return Rederived()
        threshold = self.momentary_seconds(tenant_id)
        dialect, session = self._uow.dialect, self._uow.session
        power = session.execute(
            select(EventRow.meter_id, EventRow.ts, EventRow.event_type).where(
                EventRow.tenant_id == tenant_id,
                member_of(EventRow.meter_id, meter_ids, dialect),
                member_of(EventRow.event_type, [POWER_OFF, POWER_ON], dialect),
            )
        )
        by_meter: dict[int, list[tuple[int, str]]] = {m: [] for m in meter_ids}
        for meter_id, ts, code in power:
            by_meter[meter_id].append((ts, code))
        before = self._outages_of(tenant_id, meter_ids)
        session.execute(
            delete(OutageRow).where(
                OutageRow.tenant_id == tenant_id, member_of(OutageRow.meter_id, meter_ids, dialect)
            )
        )
        stamp, rows, changed = now(), [], {}
        for meter_id, events in by_meter.items():
            derived = derive_outages(events, threshold)
            spans = changed_spans(before.get(meter_id, []), derived)
            if spans:
                changed[meter_id] = spans
            rows += [_outage_row(tenant_id, meter_id, o, stamp) for o in derived]
        if rows:
            session.execute(insert(OutageRow), rows)
        firsts = {m: min(ts for ts, _ in events) for m, events in by_meter.items() if events}
        note_reporters(self._uow, tenant_id, firsts)
        return Rederived(len(rows), changed)

    def _outages_of(self, tenant_id: int, meter_ids: Sequence[int]) -> dict[int, list[Outage]]:
        rows = self._uow.session.execute(
            select(OutageRow.meter_id, OutageRow.start, OutageRow.end, OutageRow.kind).where(
                OutageRow.tenant_id == tenant_id,
                member_of(OutageRow.meter_id, meter_ids, self._uow.dialect),
            )
        )
        found: dict[int, list[Outage]] = {}
        for meter_id, start, end, kind in rows:
            found.setdefault(meter_id, []).append(Outage(start, end, OutageKind(kind)))
        return found

    def outages(self, tenant_id: int, meter_id: int) -> list[Outage]:
        """One meter's outages, oldest first."""
        rows = self._uow.session.execute(
            select(OutageRow.start, OutageRow.end, OutageRow.kind)
            .where(OutageRow.tenant_id == tenant_id, OutageRow.meter_id == meter_id)
            .order_by(OutageRow.start)
        )
        return [Outage(s, e, OutageKind(k)) for s, e, k in rows]


def _outage_row(tenant_id: int, meter_id: int, o: Outage, stamp: int) -> dict[str, object]:
    return {
        "tenant_id": tenant_id,
        "meter_id": meter_id,
        "start": o.start,
        "end": o.end,
        "kind": o.kind.value,
        "derived_at": stamp,
    }


def _row(
    tenant_id: int, meter_id: int, e: Event, source: str, log_id: int | None, received_at: int
) -> dict[str, object]:
    return {
        "tenant_id": tenant_id,
        "meter_id": meter_id,
        "event_type": e.event_type,
        "ts": e.created,
        "mapped": e.mapped,
        "priority": e.priority.value,
        "severity": e.effective_severity,
        "mrid": e.mrid,
        "vendor_code": e.vendor_code,
        "vendor_group": e.vendor_group,
        "reason": e.reason,
        "usage_point": e.usage_point,
        "details": json.dumps(e.details, sort_keys=True),
        "source": source,
        "message_log_id": log_id,
        "received_at": received_at,
    }


def _event(row: EventRow, meter: MeterRef) -> Event:
    return Event(
        meter=meter,
        created=row.ts,
        event_type=row.event_type,
        severity=row.severity,
        mrid=row.mrid,
        vendor_code=row.vendor_code,
        vendor_group=row.vendor_group,
        reason=row.reason,
        usage_point=row.usage_point,
        details=json.loads(row.details),
    )
