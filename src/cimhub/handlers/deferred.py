"""Sending the replies that waited for on-demand reads (``cimhub.handlers.on_demand``).

A reply is due when every read it waits for is over (executed, failed, timed out or
canceled) — or at its deadline (CIMHUB_ON_DEMAND_REPLY_SECONDS after the request). It is
then the query answered from the store as it stands, sent through the outbox to the
request's ReplyAddress with the request's CorrelationID; a read that did not bring its
data adds a 0.5 warning. A read the head-end reports executed before its readings are
stored gets ``SETTLE_SECONDS`` for them to arrive (a read its readings closed has them).
"""

from __future__ import annotations

import logging
import time

from lxml import etree

from cimhub.domain.command import FINAL, State
from cimhub.errors import CimHubError, Level
from cimhub.handlers.commands import HUB
from cimhub.handlers.meter_readings import answer, with_warnings
from cimhub.handlers.registry import HandlerContext
from cimhub.message.envelope import Envelope, read_envelope
from cimhub.message.reply import Outcome, ReplyError, render_reply
from cimhub.message.verb import Verb
from cimhub.settings import Settings
from cimhub.store.commands import CommandRepository, StoredCommand
from cimhub.store.database import Database
from cimhub.store.deferred_replies import DeferredReplyRepository
from cimhub.store.outbox import Kind, OutboxRepository
from cimhub.store.unit_of_work import UnitOfWork

log = logging.getLogger("cimhub.on_demand")
#: How long a read the head-end reported executed waits for its readings to be stored.
SETTLE_SECONDS = 10


def send_due(database: Database, settings: Settings, at: int | None = None) -> int:
    """Send every deferred reply that is due; how many were sent."""
    at = int(time.time()) if at is None else at
    with database.unit_of_work(hub=True) as uow:
        waiting = DeferredReplyRepository(uow).waiting()
    sent = 0
    for pending in waiting:
        try:
            with database.unit_of_work(pending.tenant_id) as uow:
                sent += _send_if_due(uow, settings, pending.id, at)
        except CimHubError as exc:  # the next sweep tries again
            log.warning("deferred reply %d not sent: %s", pending.id, exc.reason)
    return sent


def _send_if_due(uow: UnitOfWork, settings: Settings, reply_id: int, at: int) -> bool:
    pending = DeferredReplyRepository(uow).claim(reply_id)
    if pending is None:
        return False
    repo = CommandRepository(uow)
    reads = [c for c in map(repo.by_id, pending.command_ids) if c is not None]
    late = at >= pending.deadline
    if not late and not all(_over(c, at) for c in reads):
        return False
    envelope = read_envelope(
        etree.fromstring(pending.request, etree.XMLParser(resolve_entities=False, no_network=True))
    )
    outcome = _outcome(HandlerContext(uow, pending.tenant_id, settings, pending.message_log_id,
                                      at, "cimhub", HUB), envelope, reads, late)  # fmt: skip
    OutboxRepository(uow).add(
        pending.tenant_id,
        Kind.REPLY,
        noun="MeterReadings",
        verb=Verb.REPLY.value,
        message_log_id=pending.message_log_id,
        address=pending.address,
        headers={"correlation_id": envelope.header.correlation_id or envelope.header.message_id},
        body=render_reply(envelope, outcome),
    )
    DeferredReplyRepository(uow).finish(pending.id, outcome.first_code)
    return True


def _over(stored: StoredCommand, at: int) -> bool:
    """The read is over and, if executed by the head-end's word, its readings had time."""
    command = stored.command
    if command.state not in FINAL and command.state is not State.TIMED_OUT:
        return False
    last = command.history[-1]
    by_data = command.state is State.EXECUTED and last.actor == HUB
    return command.state is not State.EXECUTED or by_data or at >= last.at + SETTLE_SECONDS


def _outcome(
    ctx: HandlerContext, envelope: Envelope, reads: list[StoredCommand], late: bool
) -> Outcome:
    """The query's answer now, with a 0.5 warning for each read that brought no data."""
    names = ctx.uow.meters.describe(ctx.tenant_id, {r.meter_id for r in reads})
    warnings = [
        ReplyError("0.5", _why(names[r.meter_id].key, r, late), Level.WARNING,
                   object_id=r.command.mrid)
        for r in reads
        if r.command.state is not State.EXECUTED
    ]  # fmt: skip
    return with_warnings(answer(ctx, envelope), warnings)


def _why(meter: str, stored: StoredCommand, late: bool) -> str:
    command = stored.command
    reason = command.history[-1].reason if command.history else ""
    what = "not over in time" if late and command.state not in FINAL else str(command.state)
    return f"meter {meter}: on-demand read {command.mrid} {what}" + (
        f" ({reason})" if reason else ""
    )
