"""MeterReadings: created/create/changed (ingest + VEE), change (edit), get (query, paged).

* ``created`` / ``create`` / ``changed`` store the raw readings (a ``changed`` from a
  head-end is a corrected re-send: a new raw version), then run VEE over the same batches
  in the same transaction, so the validated layer is there as soon as the reply is
  (``reading_ingest``: one message, or a worker's group of them as one).
* ``change`` edits the *validated* layer (an operator's correction): it never touches raw
  data, and needs Header/User/UserID (who) and Header/Comment (why); see ``cimhub.vee.edit``.
* ``get`` answers from the validated layer with its ReadingQuality codes; Option
  ``raw=true`` returns the raw readings as received, Option ``asOf=<dateTime>`` the
  validated layer as it stood at that moment; stale meters (or Option ``onDemand=true``)
  are read on demand from their head-ends (``cimhub.handlers.on_demand``).
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from functools import partial
from typing import Any

from cimhub.domain.installation import Window
from cimhub.domain.reading import ReadingKind
from cimhub.errors import DomainRuleError, InvalidQueryError, Level, PayloadError
from cimhub.handlers.billing import answer_determinants
from cimhub.handlers.on_demand import Reads, request_reads
from cimhub.handlers.reading_ingest import INGEST, vee_service
from cimhub.handlers.registry import HandlerContext, Registry
from cimhub.mappings.meter_readings import (
    SeriesOut,
    meter_readings_text,
    read_meter_readings,
)
from cimhub.mappings.reading_query import ReadingQuery, read_reading_query
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome, ReplyError, Result
from cimhub.message.verb import Noun, Verb
from cimhub.stages import stage
from cimhub.store.audit import AuditLog
from cimhub.store.daily_aggregates import refresh_edits
from cimhub.store.validated import ValidatedRepository
from cimhub.vee.edit import Edit, EditRefused

NOUN = Noun.METER_READINGS.value
#: One message's ingest (the group path is ``INGEST``, see ``reading_ingest``).
ingest = INGEST.one


def register(registry: Registry) -> None:
    registry.register(NOUN, (Verb.CREATED, Verb.CREATE, Verb.CHANGED), INGEST)
    registry.register(NOUN, (Verb.CHANGE,), change)
    registry.register(NOUN, (Verb.GET,), get)


def change(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """Edit validated readings (manual edit or bulk correction): raw stays untouched."""
    if envelope.payload is None:
        raise PayloadError("MeterReadings message without a MeterReadings payload")
    items, errors = read_meter_readings(envelope.payload)
    ids = ctx.uow.meters.find(ctx.tenant_id, [i.meter for i in items])
    edits = []
    for item, meter_id in zip(items, ids, strict=True):
        if meter_id is None:
            errors.append(
                ReplyError(
                    "2.15",
                    f"unknown meter {item.meter.key!r}",
                    xpath=f"{item.xpath}/Meter",
                    object_id=item.meter.key,
                )
            )
            continue
        for s in item.series:
            edits += [
                Edit(meter_id, s.reading_type, s.kind, ts, v)
                for ts, v in zip(s.timestamps, s.values, strict=True)
            ]
    type_ids = ctx.uow.reading_types.ids_for({e.reading_type for e in edits})
    header = envelope.header
    try:
        counts = vee_service(ctx.settings).edit(
            ctx.uow,
            ctx.tenant_id,
            edits,
            type_ids,
            user_id=header.user_id,
            reason=header.comment,
            now=ctx.received_at,
        )
    except EditRefused as exc:
        raise DomainRuleError(str(exc), xpath="Header") from exc
    refresh_edits(ctx.uow, ctx.tenant_id, edits)  # billing's daily aggregates
    _audit_edits(ctx, envelope, edits, counts)
    if errors:
        return Outcome(Result.PARTIAL if edits else Result.FAILED, errors)
    return Outcome(
        summary=f"{len(edits)} validated readings edited by {header.user_id}: "
        f"{counts.inserted} new, {counts.changed} changed, {counts.unchanged} unchanged"
    )


def _audit_edits(ctx: HandlerContext, envelope: Envelope, edits: list[Edit], counts: Any) -> None:
    """One audit entry per edit message: who, why, and what (the first 100 values).

    The values replaced stay in the validated layer's versions (``asOf`` queries them).
    """
    header = envelope.header
    AuditLog(ctx.uow).record(
        ctx.actor or header.user_id or ctx.source,
        "MeterReadings.change",
        f"message:{ctx.message_log_id}",
        tenant=ctx.uow.tenants.code_of(ctx.tenant_id),
        after={
            "user": header.user_id,
            "reason": header.comment,
            "edited": len(edits),
            "inserted": counts.inserted,
            "changed": counts.changed,
            "values": [[e.meter_id, e.reading_type, e.ts, e.value] for e in edits[:100]],
        },
    )


def get(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """Answer a GetMeterReadings; stale meters are read on demand (``on_demand``)."""
    return answer(ctx, envelope, reads=True)


def answer(ctx: HandlerContext, envelope: Envelope, *, reads: bool = False) -> Outcome:
    """The GetMeterReadings answer from the store; results over the page size come in
    PARTIAL pages. With ``reads``, a first page asks the on-demand reads it needs."""
    query = read_reading_query(envelope)
    if (determinants := answer_determinants(ctx, query)) is not None:
        return determinants
    errors: list[ReplyError] = []
    meter_ids, windows = _query_meters(ctx, query, errors)
    if not meter_ids:
        return Outcome(Result.FAILED, errors)
    asked = Reads()
    if reads and query.continuation is None and query.as_of is None:
        asked = request_reads(ctx, envelope, query, _installed(meter_ids, windows))
        if asked.deferred is not None:
            return asked.deferred
    return with_warnings(_answer(ctx, query, meter_ids, windows, errors), asked.warnings)


def with_warnings(outcome: Outcome, warnings: list[ReplyError]) -> Outcome:
    """The outcome with these warnings after its own entries (its success code first)."""
    if warnings:
        own = outcome.errors or [
            ReplyError(outcome.code, outcome.summary or "the readings stored", Level.INFORM)
        ]
        outcome.errors = own + warnings
    return outcome


def _installed(meter_ids: list[int], windows: dict[int, tuple[Window, ...]]) -> list[int]:
    """The meters a query may read now: not those asked for by a usage point they left."""
    return [m for m in meter_ids if m not in windows or windows[m][-1].end is None]


def _answer(
    ctx: HandlerContext,
    query: ReadingQuery,
    meter_ids: list[int],
    windows: dict[int, tuple[Window, ...]],
    errors: list[ReplyError],
) -> Outcome:
    type_ids = _query_types(ctx, query)
    cursor = _decode(query.continuation) if query.continuation else None
    with stage("read page"):
        found, next_cursor = _page(ctx, query, (meter_ids, windows), type_ids, cursor)
    with stage("meter names"):
        names = ctx.uow.meters.describe(ctx.tenant_id, sorted(found))
    with stage("render readings"):
        payload = meter_readings_text((names[m], series) for m, series in found.items())
    paged = cursor is not None or next_cursor is not None
    outcome = Outcome(payload=payload)
    if paged:
        outcome.result = Result.PARTIAL
        outcome.code = "0.1" if next_cursor is not None else "0.2"
        outcome.continuation = _encode(next_cursor) if next_cursor is not None else None
    if errors:
        outcome.result, outcome.errors = Result.PARTIAL, errors
    return outcome


def _query_meters(
    ctx: HandlerContext, query: ReadingQuery, errors: list[ReplyError]
) -> tuple[list[int], dict[int, tuple[Window, ...]]]:
    """The meters asked for, by EndDevice or UsagePoint, and the windows that bound the
    meters asked for by usage point only: their stays there (issue #4)."""
    ids: set[int] = set()
    free: set[int] = set()  # whole period: named as a meter, or no history to cut by
    spans: dict[int, set[Window]] = defaultdict(set)
    # a meter retired since asOf is still found: the query asks for history then
    found_meters = ctx.uow.meters.find(ctx.tenant_id, query.meters, as_of=query.as_of)
    for ref, meter_id in zip(query.meters, found_meters, strict=True):
        if meter_id is None:
            errors.append(_unknown("EndDevice", ref.key))
        else:
            ids.add(meter_id)
            free.add(meter_id)
    stays = ctx.uow.usage_points.stays_of(ctx.tenant_id, query.usage_points)
    for ref, found in zip(query.usage_points, stays, strict=True):
        if not found:
            errors.append(_unknown("UsagePoint", ref.key))
        for meter_id, windows in found.items():
            ids.add(meter_id)
            if windows is None:
                free.add(meter_id)
            else:
                spans[meter_id].update(windows)
    bounded = {m: tuple(sorted(w, key=lambda x: x.start)) for m, w in spans.items()}
    return sorted(ids), {m: w for m, w in bounded.items() if m not in free}


def _unknown(label: str, key: str) -> ReplyError:
    return ReplyError(
        "2.15",
        f"unknown {label} {key!r}",
        xpath=f"Request/GetMeterReadings/{label}",
        object_id=key,
    )


def _query_types(ctx: HandlerContext, query: ReadingQuery) -> list[int] | None:
    if not query.reading_types:
        return None
    return sorted(ctx.uow.reading_types.find_ids(query.reading_types).values()) or [-1]


Cursor = tuple[ReadingKind, tuple[int, int, int] | None]
KINDS = (ReadingKind.INTERVAL, ReadingKind.REGISTER)


def _page(
    ctx: HandlerContext,
    query: ReadingQuery,
    meters: tuple[list[int], dict[int, tuple[Window, ...]]],
    type_ids: list[int] | None,
    cursor: Cursor | None,
) -> tuple[dict[int, list[SeriesOut]], Cursor | None]:
    """Up to page_size readings from where the cursor stopped, and the next cursor if any
    (``meters``: ids, and the windows of those asked for by usage point)."""
    meter_ids, windows = meters
    room = ctx.settings.page_size
    found: dict[int, list[SeriesOut]] = defaultdict(list)
    kinds = KINDS[KINDS.index(cursor[0]) :] if cursor else KINDS
    # One statement for every kind: what the page holds of each, in KINDS order.
    pages = _source(ctx, query)(
        ctx.tenant_id,
        kinds,
        meter_ids=meter_ids,
        reading_type_ids=type_ids,
        start=query.start,
        end=query.end,
        after=cursor[1] if cursor else None,
        limit=room + 1,
        windows=windows,
    )
    codes = ctx.uow.reading_types.codes_for({r.reading_type_id for p in pages.values() for r in p})
    for kind in kinds:
        for row in pages[kind]:
            take = min(room, len(row.timestamps))
            if take:
                found[row.meter_id].append(
                    SeriesOut(
                        codes[row.reading_type_id],
                        kind,
                        row.timestamps[:take],
                        row.values[:take],
                        row.qualities[:take],
                    )
                )
                room -= take
            if take < len(row.timestamps):
                # Resume strictly after the last reading sent (or just before this series).
                last = row.timestamps[take - 1] if take else row.timestamps[0] - 1
                return found, (kind, (row.meter_id, row.reading_type_id, last))
    return found, None


def _source(ctx: HandlerContext, query: ReadingQuery) -> Any:
    """The raw readings (Option raw=true, or with VEE off) or the validated layer."""
    if query.raw or not ctx.settings.vee_enabled:
        return ctx.uow.readings.query_kinds
    validated = ValidatedRepository(ctx.uow)
    return partial(validated.query_kinds, as_of=query.as_of)


def _encode(cursor: Cursor) -> str:
    kind, after = cursor
    return base64.urlsafe_b64encode(json.dumps([kind.value, after]).encode()).decode()


def _decode(token: str) -> Cursor:
    try:
        kind, after = json.loads(base64.urlsafe_b64decode(token.encode()))
        return ReadingKind(kind), (tuple(after) if after else None)  # type: ignore[return-value]
    except (ValueError, TypeError) as exc:
        raise InvalidQueryError(
            f"continuation token {token!r} is not one this hub issued", xpath="Request/Option"
        ) from exc
