"""Outbound event messages: a strongly-typed ``<Verb><Noun>`` EventMessage per outbox row."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from cimhub.domain.reading import ReadingKind
from cimhub.mappings.end_device_events import write_end_device_events
from cimhub.mappings.meter_readings import SeriesOut, write_meter_readings
from cimhub.mappings.vee_findings import write_vee_findings
from cimhub.message import ns
from cimhub.message.verb import Noun, Verb
from cimhub.store.events import EventRepository
from cimhub.store.finding_events import NOUN as FINDINGS
from cimhub.store.outbox import VALIDATED, OutboxEntry, StoredReading, stored_by_message
from cimhub.store.subscriptions import Subscription
from cimhub.store.unit_of_work import UnitOfWork

_M = ns.MESSAGE
_PAST = {
    Verb.CREATE: Verb.CREATED,
    Verb.CHANGE: Verb.CHANGED,
    Verb.DELETE: Verb.DELETED,
    Verb.CANCEL: Verb.CANCELED,
    Verb.CLOSE: Verb.CLOSED,
    Verb.EXECUTE: Verb.EXECUTED,
}


def event_verb(verb: str) -> Verb:
    """Events tell what happened: a ``create`` request is announced as ``created``."""
    return _PAST.get(Verb(verb), Verb(verb))


def event_id(entry: OutboxEntry) -> str:
    """A stable MessageID for an event: one per (message, subscription), the same on every
    redelivery and replay."""
    origin = entry.message_log_id if entry.message_log_id is not None else f"row-{entry.id}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cimhub-event-{origin}-{entry.address}"))


def render_event(uow: UnitOfWork, entry: OutboxEntry, sub: Subscription) -> bytes | None:
    """The event message for one subscription, or None when nothing is left to announce."""
    if entry.headers.get("layer") == VALIDATED:  # validated values, written with the data
        payload = _validated_payload(uow, entry, sub)
    elif entry.noun == FINDINGS:  # VEE findings, written with them (JSON)
        payload = _findings_payload(uow, entry)
    elif entry.body:  # a payload written whole into the outbox (e.g. billing determinants)
        payload = etree.fromstring(entry.body, etree.XMLParser(resolve_entities=False))
    elif entry.noun == Noun.METER_READINGS.value:  # raw readings: read back what it stored
        payload = _readings_payload(uow, entry, sub)
    elif entry.noun == Noun.END_DEVICE_EVENTS.value:  # events: read back what it stored
        payload = _events_payload(uow, entry, sub)
    else:
        payload = None
    if payload is None:
        return None
    return wrap(
        entry.noun,
        event_verb(entry.verb),
        payload,
        event_id(entry),
        entry.headers.get("correlation_id"),
    )


def wrap(
    noun: str,
    verb: Verb,
    payload: etree._Element,
    message_id: str,
    correlation: str | None,
    *,
    source: str = "cimhub",
) -> bytes:
    outer = ns.message_ns(noun)
    root = etree.Element(
        ns.qname(outer, verb.element_prefix + noun), nsmap={None: outer, "msg": _M}
    )
    header = etree.SubElement(root, ns.qname(outer, "Header"))
    for local, text in (
        ("Verb", verb.value),
        ("Noun", noun),
        ("Timestamp", datetime.now(UTC).isoformat(timespec="seconds")),
        ("Source", source),
        ("MessageID", message_id),
        ("CorrelationID", correlation),
    ):
        if text:
            etree.SubElement(header, ns.qname(_M, local)).text = text
    etree.SubElement(root, ns.qname(outer, "Payload")).append(payload)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _validated_payload(
    uow: UnitOfWork, entry: OutboxEntry, sub: Subscription
) -> etree._Element | None:
    """The validated values in the row's body, of the subscription's reading types."""
    rows = json.loads(entry.body or b"{}").get("readings", [])
    if sub.reading_types:
        rows = [r for r in rows if r[2] in sub.reading_types]
    if not rows:
        return None
    by_meter: dict[int, dict[tuple[str, str], list[list[Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in rows:  # [kind, meter id, reading type, ts, value, quality], sorted
        by_meter[row[1]][(row[0], row[2])].append(row)
    names = uow.meters.describe(entry.tenant_id, sorted(by_meter))
    return write_meter_readings(
        (
            names[meter_id],
            [
                SeriesOut(
                    code,
                    ReadingKind(kind),
                    [r[3] for r in series],
                    [r[4] for r in series],
                    [r[5] for r in series],
                )
                for (kind, code), series in groups.items()
            ],
        )
        for meter_id, groups in by_meter.items()
    )


def _findings_payload(uow: UnitOfWork, entry: OutboxEntry) -> etree._Element | None:
    """The findings in the row's body (already filtered for its subscription)."""
    body = json.loads(entry.body or b"{}")
    findings = body.get("findings", [])
    if not findings:
        return None
    meters = uow.meters.describe(entry.tenant_id, {f["meter_id"] for f in findings})
    codes = uow.reading_types.codes_for({f["reading_type_id"] for f in findings})
    return write_vee_findings(body.get("tenant", ""), findings, meters, codes)


def _events_payload(
    uow: UnitOfWork, entry: OutboxEntry, sub: Subscription
) -> etree._Element | None:
    """The events the message stored (repeats were dropped), of the subscription's types."""
    h = entry.headers
    if entry.message_log_id is None:
        return None
    events = EventRepository(uow).stored_by_message(
        entry.tenant_id,
        entry.message_log_id,
        list(h.get("meters", [])),
        int(h.get("first", 0)),
        int(h.get("last", 0)),
        event_types=sub.event_types,
    )
    return write_end_device_events(events) if events else None


def _readings_payload(
    uow: UnitOfWork, entry: OutboxEntry, sub: Subscription
) -> etree._Element | None:
    h = entry.headers
    if entry.message_log_id is None:
        return None
    rows = stored_by_message(
        uow,
        entry.tenant_id,
        entry.message_log_id,
        list(h.get("meters", [])),
        int(h.get("first", 0)),
        int(h.get("last", 0)),
    )
    if not rows:
        return None
    codes = uow.reading_types.codes_for({r.reading_type_id for r in rows})
    if sub.reading_types:
        rows = [r for r in rows if codes[r.reading_type_id] in sub.reading_types]
        if not rows:
            return None
    by_meter: dict[int, dict[tuple[str, int], list[StoredReading]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in rows:
        by_meter[r.meter_id][(r.kind, r.reading_type_id)].append(r)
    names = uow.meters.describe(entry.tenant_id, sorted(by_meter))
    return write_meter_readings(
        (
            names[meter_id],
            [
                SeriesOut(
                    codes[type_id],
                    ReadingKind(kind),
                    [r.ts for r in series],
                    [r.value for r in series],
                    [r.quality for r in series],
                )
                for (kind, type_id), series in groups.items()
            ],
        )
        for meter_id, groups in by_meter.items()
    )
