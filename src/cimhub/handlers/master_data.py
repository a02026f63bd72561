"""MeterConfig, UsagePointConfig and MasterDataLinkageConfig: create, change, cancel,
close, delete (and the past-tense events from systems of record), plus GetMeterConfig
and GetUsagePointConfig. One transaction per message: a refused item refuses it all."""

from __future__ import annotations

import time
from collections.abc import Mapping

from cimhub.handlers.meter_readings import vee_service
from cimhub.handlers.registry import Handler, HandlerContext, Registry
from cimhub.mappings.config_query import read_config_query
from cimhub.mappings.master_data_linkage import read_linkage
from cimhub.mappings.meter_config import read_meter_config, write_meter_config
from cimhub.mappings.usage_point_config import (
    read_usage_point_config,
    read_usage_point_meters,
    write_usage_point_config,
)
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome, ReplyError, Result
from cimhub.message.verb import Noun, Verb
from cimhub.store.audit import AuditLog
from cimhub.store.master_data import Linked, Provenance
from cimhub.store.meter_assets import Mode, SaveResult

MODES = {
    Verb.CREATE: Mode.CREATE,
    Verb.CHANGE: Mode.CHANGE,
    Verb.CREATED: Mode.UPSERT,
    Verb.CHANGED: Mode.UPSERT,
}
#: record states the retiring verbs leave behind
RETIRE = {
    Verb.CLOSE: "closed",
    Verb.CLOSED: "closed",
    Verb.CANCEL: "canceled",
    Verb.CANCELED: "canceled",
    Verb.DELETE: "deleted",
    Verb.DELETED: "deleted",
}
WRITES = (*MODES, *RETIRE)
#: A link is not changed in place: it is closed (or cancelled) and created anew, so
#: change / changed MasterDataLinkageConfig stay unregistered and are answered 1.8.
LINKAGE = tuple(v for v in WRITES if v not in (Verb.CHANGE, Verb.CHANGED))


def register(registry: Registry) -> None:
    registry.register(Noun.METER_CONFIG.value, WRITES, audited(meter_config))
    registry.register(Noun.METER_CONFIG.value, (Verb.GET,), get_meter_config)
    registry.register(Noun.USAGE_POINT_CONFIG.value, WRITES, audited(usage_point_config))
    registry.register(Noun.USAGE_POINT_CONFIG.value, (Verb.GET,), get_usage_point_config)
    registry.register(Noun.MASTER_DATA_LINKAGE_CONFIG.value, LINKAGE, audited(linkage_config))


def audited(handler: Handler) -> Handler:
    """The handler, leaving an audit entry per master-data change (who, what, the outcome);
    the message itself stays in the message log, the objects' history in their tables."""

    def run(ctx: HandlerContext, envelope: Envelope) -> Outcome:
        outcome = handler(ctx, envelope)
        header = envelope.header
        AuditLog(ctx.uow).record(
            ctx.actor or header.user_id or ctx.source,
            f"{envelope.noun}.{envelope.verb}",
            f"message:{ctx.message_log_id}",
            tenant=ctx.uow.tenants.code_of(ctx.tenant_id),
            after={"summary": outcome.summary, "user": header.user_id, "source": ctx.source},
        )
        return outcome

    return run


def _origin(ctx: HandlerContext, envelope: Envelope) -> Provenance:
    return Provenance(
        f"{envelope.noun}.{envelope.verb}" + (f" from {ctx.source}" if ctx.source else ""),
        ctx.message_log_id,
        ctx.received_at,
    )


def _summary(what: str, result: SaveResult) -> str:
    total = result.created + result.changed + result.unchanged
    return (
        f"{total} {what}: {result.created} new, {result.changed} changed, "
        f"{result.unchanged} unchanged"
    )


def meter_config(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    specs = read_meter_config(envelope.payload)
    origin = _origin(ctx, envelope)
    if envelope.verb in MODES:
        result = ctx.uow.meter_assets.save(
            ctx.tenant_id, specs, MODES[envelope.verb], source=origin.source
        )
        return Outcome(summary=_summary("meters", result))
    first = specs[0]
    count = ctx.uow.master.retire_meters(
        ctx.tenant_id,
        [s.key for s in specs],
        RETIRE[envelope.verb],
        at=first.stage_at or int(time.time()),
        by=first.changed_by or envelope.header.user_id or "",
        reason=first.reason or RETIRE[envelope.verb],
        origin=origin,
    )
    return Outcome(summary=f"{count} meters {RETIRE[envelope.verb]}")


def usage_point_config(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """The usage points, and the meters they list installed there (as a linkage create
    would: a meter already there is left as it is; a different meter in the same role,
    or one installed elsewhere, refuses the message — exchange meters with
    MasterDataLinkageConfig)."""
    specs = read_usage_point_config(envelope.payload)
    if envelope.verb in MODES:
        result = ctx.uow.usage_points.save(ctx.tenant_id, specs, MODES[envelope.verb])
        summary = _summary("usage points", result)
        assert envelope.payload is not None  # read_usage_point_config refused it otherwise
        links = read_usage_point_meters(envelope.payload, specs, ctx.received_at)
        if links:
            made = _validated(
                ctx, ctx.uow.master.install(ctx.tenant_id, links, _origin(ctx, envelope))
            )
            summary += f"; {made} meters installed, {len(links) - made} already in place"
        return Outcome(summary=summary)
    count = ctx.uow.master.retire_usage_points(
        ctx.tenant_id, [s.key for s in specs], RETIRE[envelope.verb]
    )
    return Outcome(summary=f"{count} usage points {RETIRE[envelope.verb]}")


def linkage_config(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """create: install (replace, when the event names a ReplacedMeter or FinalReading);
    close / delete: the meter leaves the usage point at the effective time;
    cancel: the link was entered in error and is voided (its history kept)."""
    links = read_linkage(envelope.payload)
    origin = _origin(ctx, envelope)
    master, tenant = ctx.uow.master, ctx.tenant_id
    if envelope.verb in (Verb.CREATE, Verb.CREATED):
        count = _validated(ctx, master.install(tenant, links, origin))
        return Outcome(summary=f"{count} links made, {len(links) - count} already in place")
    if envelope.verb in (Verb.CANCEL, Verb.CANCELED):
        count = master.cancel_links(tenant, links, links[0].reason or "canceled", origin)
        return Outcome(summary=f"{count} links canceled")
    count = _validated(ctx, master.remove(tenant, links, origin))
    return Outcome(summary=f"{count} links closed")


def _validated(ctx: HandlerContext, linked: Linked) -> int:
    """VEE on the register reads a link change stored (a replacement's final and initial
    reads), as on any register read that arrives: they join the validated layer at once,
    so a validated GetMeterReadings shows them. Returns the links' count."""
    if ctx.settings.vee_enabled and linked.reads:
        tenant = ctx.uow.tenants.code_of(ctx.tenant_id)
        vee_service(ctx.settings).run(
            ctx.uow, ctx.tenant_id, tenant, linked.reads, linked.type_ids, now=ctx.received_at
        )
    return linked.count


def get_meter_config(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    query = read_config_query(envelope, Noun.METER_CONFIG.value)
    found = ctx.uow.master_queries.meters_by_keys(ctx.tenant_id, query.meters)
    errors = _unknown(query.meters, found, "Meter")
    meters = {m["id"]: m for m in found.values()}
    for key in query.usage_points:
        page = ctx.uow.master_queries.meters(
            ctx.tenant_id, {"usage_point": key}, limit=1000, offset=0
        )
        if not page.items:
            errors.append(_error(key, "UsagePoint", "no meter installed at"))
        meters.update((m["id"], m) for m in page.items)
    dates = ctx.uow.master_queries.meter_dates(ctx.tenant_id, sorted(meters))
    return _answer(write_meter_config(meters.values(), dates) if meters else None, errors)


def get_usage_point_config(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """Usage points by mRID or consumer number, or the one a meter is installed at."""
    query = read_config_query(envelope, Noun.USAGE_POINT_CONFIG.value)
    queries = ctx.uow.master_queries
    meters = queries.meters_by_keys(ctx.tenant_id, query.meters)
    errors = _unknown(query.meters, meters, "Meter")
    keys = list(query.usage_points)
    for key, meter in meters.items():
        if meter["usage_point"] is None:
            errors.append(_error(key, "Meter", "no usage point for"))
        else:
            keys.append(meter["usage_point"])
    found = queries.usage_points_by_keys(ctx.tenant_id, keys)
    errors += _unknown(query.usage_points, found, "UsagePoint")
    points = {p["id"]: p for p in found.values()}
    return _answer(write_usage_point_config(points.values()) if points else None, errors)


def _unknown(keys: list[str], found: Mapping[str, object], label: str) -> list[ReplyError]:
    return [_error(key, label, "unknown") for key in keys if key not in found]


def _error(key: str, label: str, what: str) -> ReplyError:
    return ReplyError("2.15", f"{what} {label} {key!r}", xpath=f"Request/{label}", object_id=key)


def _answer(payload: object, errors: list[ReplyError]) -> Outcome:
    if payload is None:
        return Outcome(Result.FAILED, errors)
    outcome = Outcome(payload=payload)  # type: ignore[arg-type]
    if errors:
        outcome.result, outcome.errors = Result.PARTIAL, errors
    return outcome
