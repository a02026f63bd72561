"""EndDeviceControls: create (commands from billing, CIS, prepaid, operators), status
updates from head-ends (created / changed / executed), cancel, and get.

A create is answered at once with each command's mRID and state (a disconnect waits for a
second person's approval: ``POST /api/v1/commands/{mRID}/approve``); the outcome follows
as ``EndDeviceControls changed`` events to subscribers. A create repeated with the same
command mRID changes nothing and answers the command's current state (idempotent).
"""

from __future__ import annotations

from lxml import etree

from cimhub.domain.command import Command, CommandKind, State, parse_kind
from cimhub.domain.rule import IllegalTransitionError
from cimhub.errors import CimHubError, Level, PayloadError
from cimhub.handlers.commands import Commands
from cimhub.handlers.outage_vee import rejudge, switched
from cimhub.handlers.registry import HandlerContext, Registry
from cimhub.mappings.end_device_controls import (
    ControlItem,
    read_end_device_controls,
    status_state,
    write_end_device_controls,
)
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome, ReplyError, Result
from cimhub.message.verb import Noun, Verb

NOUN = Noun.END_DEVICE_CONTROLS.value


def register(registry: Registry) -> None:
    registry.register(NOUN, (Verb.CREATE,), create)
    registry.register(NOUN, (Verb.CREATED, Verb.CHANGED, Verb.EXECUTED), status)
    registry.register(NOUN, (Verb.CANCEL,), cancel)
    registry.register(NOUN, (Verb.GET,), get)


def _items(ctx: HandlerContext, envelope: Envelope) -> tuple[list[ControlItem], list[ReplyError]]:
    if envelope.payload is None:
        raise PayloadError("EndDeviceControls message without an EndDeviceControls payload")
    items, errors = read_end_device_controls(envelope.payload, envelope.header.message_id)
    if not items and not errors:
        raise PayloadError("the EndDeviceControls payload holds no EndDeviceControl")
    return items, errors


def _actor(envelope: Envelope, ctx: HandlerContext | None = None) -> str:
    """Who asks: the authenticated principal (once the context carries one), else the
    header's User/UserID, else its Source."""
    principal = str(getattr(ctx, "actor", "") or "")
    return principal or envelope.header.user_id or envelope.header.source or "anonymous"


def _answer(
    errors: list[ReplyError], done: int, payload: etree._Element | None, summary: str
) -> Outcome:
    errors.sort(key=lambda e: e.xpath or "")
    if errors:
        return Outcome(Result.PARTIAL if done else Result.FAILED, errors, payload)
    return Outcome(payload=payload, summary=summary)


def create(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """One command per (control, meter); unknown meters refused one by one (2.15)."""
    items, errors = _items(ctx, envelope)
    commands = Commands(ctx.uow)
    known = commands.repo.by_mrid(ctx.tenant_id, [i.mrid for i in items])
    meters = ctx.uow.meters.find(ctx.tenant_id, [i.meter for i in items])
    answered: dict[str, Command] = {}
    for item, meter_id in zip(items, meters, strict=True):
        if item.mrid in known:  # a repeat: its current state, nothing new
            answered.setdefault(item.mrid, known[item.mrid].command)
            continue
        if item.mrid in answered:
            continue
        if meter_id is None:
            key = item.meter.key
            where = f"{item.xpath}/EndDevices"
            errors.append(ReplyError("2.15", f"unknown meter {key!r}", xpath=where, object_id=key))
            continue
        kind = parse_kind(item.control_type, item.action)
        command = Command(
            mrid=item.mrid,
            kind=kind,
            meter=item.meter,
            requester=_actor(envelope, ctx),
            source=envelope.header.source or ctx.source,
            reason=item.reason,
            demand_limit_w=item.demand_limit_w,
            correlation_id=envelope.header.message_id,
            period=item.period if kind is CommandKind.READ else None,
        )
        stored_id = commands.create(ctx.tenant_id, meter_id, command, ctx.message_log_id)
        stored = commands.repo.by_id(stored_id)
        answered[item.mrid] = stored.command if stored else command
    payload = write_end_device_controls(answered.values()) if answered else None
    states = ", ".join(f"{m}: {c.state}" for m, c in answered.items())
    return _answer(errors, len(answered), payload, f"{len(answered)} command(s): {states}")


def status(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """A head-end reports a command's progress; a repeat is a no-op, a move back is 3.4."""
    items, errors = _items(ctx, envelope)
    commands = Commands(ctx.uow)
    known = commands.repo.by_mrid(ctx.tenant_id, [i.mrid for i in items], lock=True)
    moved = 0
    actor = envelope.header.source or ctx.source
    for item in items:
        stored = known.get(item.mrid)
        target = status_state(item)
        if envelope.verb is Verb.EXECUTED and target is None and item.status is None:
            target = State.EXECUTED
        if stored is None:
            errors.append(_error("2.15", f"unknown command {item.mrid!r}", item, "mRID"))
        elif target is None:
            reason = f"unknown command status {item.status!r}"
            errors.append(_error("2.1", reason, item, "status/value"))
        else:
            try:
                commands.move(stored, target, actor, item.status_reason, item.status_at or 0)
                moved += 1
            except IllegalTransitionError as exc:
                errors.append(_error(exc.code, exc.reason, item, "status/value"))
    # a connect/disconnect executed switches the relay: VEE judges those days again
    rejudged = rejudge(ctx, switched(ctx, commands.switched))
    summary = f"{moved} command status update(s)"
    summary += f"; VEE: {rejudged} validated value(s) re-judged" if rejudged else ""
    return _answer(errors, moved, None, summary)


def cancel(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """Cancel commands not yet sent to their head-end."""
    items, errors = _items(ctx, envelope)
    commands = Commands(ctx.uow)
    known = commands.repo.by_mrid(ctx.tenant_id, [i.mrid for i in items], lock=True)
    done = 0
    for item in items:
        stored = known.get(item.mrid)
        if stored is None:
            errors.append(_error("2.15", f"unknown command {item.mrid!r}", item, "mRID"))
            continue
        try:
            commands.move(stored, State.CANCELED, _actor(envelope, ctx), item.reason or "canceled")
            done += 1
        except CimHubError as exc:
            errors.append(_error(exc.code, exc.reason, item, "mRID"))
    return _answer(errors, done, None, f"{done} command(s) canceled")


def _error(code: str, reason: str, item: ControlItem, where: str) -> ReplyError:
    return ReplyError(code, reason, xpath=f"{item.xpath}/{where}", object_id=item.mrid)


def get(ctx: HandlerContext, envelope: Envelope) -> Outcome:
    """Commands by mRID (Request/ID, or EndDeviceControl mRIDs in the payload); else the
    newest page."""
    ids = _requested_ids(envelope)
    repo = Commands(ctx.uow).repo
    if ids:
        found = repo.by_mrid(ctx.tenant_id, ids)
        errors = [
            ReplyError("2.15", f"unknown command {m!r}", xpath="Request/ID", object_id=m)
            for m in ids
            if m not in found
        ]
        chosen = [found[m].command for m in ids if m in found]
    else:
        page, _total = repo.query(ctx.tenant_id, limit=min(ctx.settings.page_size, 1000))
        errors, chosen = [], [s.command for s in page]
    if ids and not chosen:
        return Outcome(Result.FAILED, errors)
    payload = write_end_device_controls(chosen)
    if errors:
        return Outcome(Result.PARTIAL, errors, payload)
    if not chosen:
        return Outcome(errors=[ReplyError("0.0", "no commands", Level.INFORM)], payload=payload)
    return Outcome(payload=payload, summary=f"{len(chosen)} command(s)")


def _requested_ids(envelope: Envelope) -> list[str]:
    ids: list[str] = []
    if envelope.request is not None:
        ids += [(e.text or "").strip() for e in envelope.request.iterfind("{*}ID")]
    if envelope.payload is not None:
        ids += [
            (e.text or "").strip() for e in envelope.payload.iterfind("{*}EndDeviceControl/{*}mRID")
        ]
    return [i for i in ids if i]
