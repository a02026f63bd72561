"""On-demand reads from a GetMeterReadings (use cases 12.4, 21, 7.4): a query for a meter
whose data is stale (the tenant's ``cimhub tenant --on-demand-stale-minutes``, else
CIMHUB_ON_DEMAND_STALE_MINUTES), or that says Option onDemand=true, asks the meter's
head-end for the missing period (and the query's reading types) with a READ command.

* A query with an asynchronous reply (AsyncReplyFlag + ReplyAddress) is answered 0.3 at
  once; its full reply is sent when the reads are over (``cimhub.handlers.deferred``).
* Any other query is answered at once with what is stored, plus a 0.4 warning per meter
  naming the read it asked for: the request thread never waits for a meter.

A read already open for the meter that covers the period (and brings the reading types
asked) is shared, not asked again: several queries of one stale meter make one read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from cimhub.domain.command import Command, CommandKind, State
from cimhub.domain.meter_read import DAY, Period, ReadPolicy, on_demand_period
from cimhub.domain.reading import MeterRef
from cimhub.errors import Level
from cimhub.handlers.commands import HUB, Commands
from cimhub.handlers.registry import HandlerContext
from cimhub.mappings.reading_query import ReadingQuery
from cimhub.mappings.timestamp import to_text
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome, ReplyError
from cimhub.store.commands import StoredCommand
from cimhub.store.deferred_replies import DeferredReplyRepository

#: A query naming more meters than this asks no automatic reads (a billing system's bulk
#: query must not send a read to every meter of a DISCOM); it says so (0.5).
MAX_METERS = 100
#: Reads not over yet, which a new query may share.
WAITING = frozenset({State.REQUESTED, State.APPROVED, State.SENT, State.ACKNOWLEDGED})


@dataclass(slots=True)
class Reads:
    """What a query's reads add to its answer: warnings, or the 0.3 of a deferred reply."""

    warnings: list[ReplyError] = field(default_factory=list)
    deferred: Outcome | None = None


def policy_of(ctx: HandlerContext) -> ReadPolicy:
    """The tenant's staleness threshold (its own, else the hub's) and the meters' memory."""
    settings = ctx.settings
    minutes = ctx.uow.tenants.get(ctx.tenant_id).stale_minutes(settings.on_demand_stale_minutes)
    return ReadPolicy(minutes * 60, settings.meter_memory_days * DAY)


def request_reads(
    ctx: HandlerContext, envelope: Envelope, query: ReadingQuery, meter_ids: Sequence[int]
) -> Reads:
    """Ask the reads this query needs (see the module docstring)."""
    if query.on_demand is False:
        return Reads()
    policy = policy_of(ctx)
    if query.on_demand is None and policy.stale_after <= 0:
        return Reads()
    if len(meter_ids) > MAX_METERS:
        why = f"{len(meter_ids)} meters asked: on-demand reads are made for {MAX_METERS} at most"
        return Reads([ReplyError("0.5", why, Level.WARNING)])
    wanted = _periods(ctx, query, meter_ids, policy)
    if not wanted:
        return Reads()
    names = ctx.uow.meters.describe(ctx.tenant_id, wanted)
    commands = Commands(ctx.uow)
    commands.repo.lock_reads(list(wanted))
    sharing = commands.repo.of_meters(ctx.tenant_id, list(wanted), CommandKind.READ, WAITING)
    reads, warnings = {}, []
    for meter_id, period in wanted.items():
        key = names[meter_id].key
        hes = commands.repo.meter_hes(ctx.tenant_id, meter_id)
        if hes is None:
            if query.on_demand:
                why = f"meter {key}: no on-demand read, the meter belongs to no head-end"
                warnings.append(ReplyError("0.5", why, Level.WARNING, object_id=key))
            continue
        shared = [s for s in sharing
                  if s.meter_id == meter_id and _covers(s, period, query, policy)]  # fmt: skip
        reads[meter_id] = (
            shared[0]
            if shared
            else _ask(ctx, envelope, commands, (meter_id, names[meter_id]), period, query)
        )
    if not reads:
        return Reads(warnings)
    if envelope.header.async_reply and envelope.header.reply_address:
        return Reads(warnings, _defer(ctx, envelope, list(reads.values())))
    warnings += [_requested(names[m].key, stored) for m, stored in reads.items()]
    return Reads(warnings)


def _periods(
    ctx: HandlerContext, query: ReadingQuery, meter_ids: Sequence[int], policy: ReadPolicy
) -> dict[int, Period]:
    """The period to read for each meter that needs one."""
    now = ctx.received_at
    latest = ctx.uow.readings.latest(ctx.tenant_id, meter_ids, now - policy.memory)
    periods = {
        meter_id: on_demand_period(
            policy, latest=latest.get(meter_id), start=query.start, end=query.end, now=now,
            asked=query.on_demand,
        )
        for meter_id in meter_ids
    }  # fmt: skip
    return {m: p for m, p in periods.items() if p is not None}


def _covers(stored: StoredCommand, period: Period, query: ReadingQuery, policy: ReadPolicy) -> bool:
    """Whether an open read brings what this query needs: its period, and its reading
    types (a read of every type serves any query)."""
    command = stored.command
    if command.period is None or not command.period.covers(period, policy.slack):
        return False
    wanted = set(query.reading_types)
    return not command.reading_types or (bool(wanted) and wanted <= set(command.reading_types))


def _ask(
    ctx: HandlerContext,
    envelope: Envelope,
    commands: Commands,
    meter: tuple[int, MeterRef],
    period: Period,
    query: ReadingQuery,
) -> StoredCommand:
    """A new READ command for the period (and the query's reading types), sent to the
    meter's head-end."""
    meter_id, ref = meter
    command = Command(
        mrid=f"read-{uuid.uuid4()}",
        kind=CommandKind.READ,
        meter=ref,
        requester=ctx.actor or ctx.source or HUB,
        source=envelope.header.source or ctx.source or HUB,
        reason=f"on-demand read for GetMeterReadings {envelope.header.message_id or ''}".strip(),
        correlation_id=envelope.header.message_id,
        period=period,
        reading_types=tuple(query.reading_types),
    )
    stored = commands.repo.by_id(commands.create(ctx.tenant_id, meter_id, command, None))
    assert stored is not None
    return stored


def _requested(key: str, stored: StoredCommand) -> ReplyError:
    period = stored.command.period
    span = f" for {to_text(period.start)} – {to_text(period.end)}" if period else ""
    why = (
        f"meter {key}: data not fresh; on-demand read {stored.command.mrid}{span} is "
        f"{stored.command.state} (head-end {stored.hes}); ask again once it is executed"
    )
    return ReplyError("0.4", why, Level.WARNING, object_id=stored.command.mrid)


def _defer(ctx: HandlerContext, envelope: Envelope, reads: list[StoredCommand]) -> Outcome:
    """Keep the request until its reads are over; answer 0.3 now."""
    address = envelope.header.reply_address or ""
    wait = ctx.settings.on_demand_reply_seconds
    DeferredReplyRepository(ctx.uow).add(
        ctx.tenant_id,
        log_id=ctx.message_log_id,
        address=address,
        request=etree.tostring(envelope.root),
        command_ids=[s.id for s in reads],
        deadline=ctx.received_at + int(wait),
    )
    mrids = ", ".join(s.command.mrid for s in reads)
    summary = (
        f"accepted; on-demand read(s) {mrids} asked of the head-end: the reply follows to "
        f"{address} when they are over (at most {wait:g} s)"
    )
    return Outcome(code="0.3", summary=summary, deferred=True)
