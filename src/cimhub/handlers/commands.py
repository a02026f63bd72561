"""Moving commands and telling the world: every move stored, announced through the outbox.

Used by the EndDeviceControls handler, the REST routes, the HES dispatcher and the
timeout sweep, so a command moves the same way whoever moves it. Each move after the
create is published to the subscribers of ``EndDeviceControls changed`` (the payload
carries the command with its new status) in the same transaction as the move.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from lxml import etree

from cimhub.domain.command import OPEN, RCD_OUTCOMES, Command, CommandKind, State
from cimhub.domain.event import Event
from cimhub.domain.meter_read import MIN_SLACK, Period
from cimhub.domain.relay import SWITCH_COMMANDS
from cimhub.mappings.end_device_controls import write_end_device_controls
from cimhub.message.verb import Noun, Verb
from cimhub.store.commands import CommandRepository, StoredCommand
from cimhub.store.outbox import Kind, OutboxRepository
from cimhub.store.subscriptions import SubscriptionRepository
from cimhub.store.unit_of_work import UnitOfWork

NOUN = Noun.END_DEVICE_CONTROLS.value
HUB = "cimhub"


class Commands:
    """Command moves inside one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.repo = CommandRepository(uow)
        #: meters whose relay an executed connect/disconnect just switched (``store.relay``)
        self.switched: set[int] = set()

    def create(self, tenant_id: int, meter_id: int, command: Command, log_id: int | None) -> int:
        """Store a new command (requested, then awaiting approval or approved) and release it."""
        at = int(time.time())
        command.submit(at)
        command_id = self.repo.add(tenant_id, meter_id, command, log_id)
        stored = self.repo.by_id(command_id)
        assert stored is not None
        if stored.command.state is State.APPROVED:
            self.release(stored, at)
        return command_id

    def move(
        self, stored: StoredCommand, target: State, actor: str, reason: str = "", at: int = 0
    ) -> bool:
        """One move (IllegalTransitionError 3.4 if refused); False when already there."""
        moved = stored.command.move(target, at or int(time.time()), actor, reason)
        if moved:
            if target is State.APPROVED:
                self.release(stored, at or int(time.time()))
            self.repo.save(stored)
            self.announce(stored)
            if target in (State.TIMED_OUT, State.FAILED, State.EXECUTED):
                self.repo.finish_command(stored.id, f"command {target}")
            if target is State.EXECUTED and stored.command.kind in SWITCH_COMMANDS:
                self.switched.add(stored.meter_id)
        return moved

    def approve(self, stored: StoredCommand, approver: str) -> None:
        at = int(time.time())
        stored.command.approve(at, approver)
        self.release(stored, at)
        self.repo.save(stored)
        self.announce(stored)

    def release(self, stored: StoredCommand, at: int) -> None:
        """An approved command goes out: to the head-end owning its meter, or fails."""
        hes = self.repo.meter_hes(stored.tenant_id, stored.meter_id)
        if hes is None:
            stored.command.move(State.FAILED, at, HUB, "the meter belongs to no head-end")
            return
        stored.hes = hes
        stored.command.move(State.SENT, at, HUB, f"queued for head-end {hes}")
        self.repo.enqueue(stored.tenant_id, stored.id)  # the dispatcher finds its endpoint
        self.repo.save(stored)

    def announce(self, stored: StoredCommand) -> None:
        """Publish the command's current status to ``EndDeviceControls changed`` subscribers."""
        tenant = self.uow.tenants.code_of(stored.tenant_id)
        subs = [
            s
            for s in SubscriptionRepository(self.uow).for_tenant(stored.tenant_id)
            if s.active and s.matches(tenant, NOUN, Verb.CHANGED.value)
        ]
        if not subs:
            return
        body = etree.tostring(write_end_device_controls([stored.command]))
        outbox = OutboxRepository(self.uow)
        for sub in subs:
            outbox.add(
                stored.tenant_id,
                Kind.EVENT,
                noun=NOUN,
                verb=Verb.CHANGED.value,
                address=sub.name,
                headers={
                    "correlation_id": stored.command.correlation_id,
                    "move": f"{stored.command.mrid}/{len(stored.command.history)}",
                },
                body=body,
            )


def time_out(
    uow: UnitOfWork,
    timeout_seconds: float,
    at: int | None = None,
    outcome_timeout_seconds: float | None = None,
) -> list[str]:
    """Commands sent ``timeout_seconds`` ago or more and not acknowledged — and, with
    ``outcome_timeout_seconds``, acknowledged that long ago with no outcome — time out
    (announced like every move). Their mRIDs."""
    at = at if at is not None else int(time.time())
    commands = Commands(uow)
    expired = [
        (s, f"no acknowledgement from head-end {s.hes} in {timeout_seconds:g} s")
        for s in commands.repo.unanswered_since(int(at - timeout_seconds) + 1)
    ]
    if outcome_timeout_seconds is not None:
        expired += [
            (s, f"no outcome from head-end {s.hes} in {outcome_timeout_seconds:g} s")
            for s in commands.repo.without_outcome_since(int(at - outcome_timeout_seconds) + 1)
        ]
    for stored, reason in expired:
        commands.move(stored, State.TIMED_OUT, HUB, reason, at)
    return [s.command.mrid for s, _ in expired]


def close_by_events(
    uow: UnitOfWork, tenant_id: int, events: list[tuple[int, Event]], actor: str
) -> int:
    """A meter's events that report a command's outcome (RCD switch, time sync, MD reset,
    payment-mode switch: ``RCD_OUTCOMES``) close its open command of that kind, oldest event
    first. ``events`` are the ones not stored before, so a repeat closes no later command.
    How many commands they closed."""
    commands, closed = Commands(uow), 0
    for meter_id, event in sorted(events, key=lambda pair: pair[1].created):
        outcome = RCD_OUTCOMES.get(event.event_type)
        if outcome is None:
            continue
        kind, state = outcome
        stored = commands.repo.open_for_meter(tenant_id, meter_id, kind, OPEN)
        if stored is not None:
            reason = event.reason or f"EndDeviceEvent {event.event_type}"
            closed += commands.move(stored, state, actor, reason, event.created)
    return closed


def close_reads(
    uow: UnitOfWork,
    tenant_id: int,
    seen: Mapping[int, Sequence[tuple[Sequence[int], int]]],
    reason: str,
) -> list[str]:
    """Readings just stored (meter id → (timestamps, interval length) per series) close the
    meters' open READ commands whose period they reach: executed, by the data itself (the
    head-end's own status, when it follows, changes nothing). The mRIDs closed."""
    commands, closed = Commands(uow), []
    for stored in commands.repo.of_meters(tenant_id, list(seen), CommandKind.READ, OPEN, lock=True):
        period = stored.command.period or Period(stored.created_at - MIN_SLACK, stored.created_at)
        if any(period.filled_by(stamps, step) for stamps, step in seen[stored.meter_id]):
            commands.move(stored, State.EXECUTED, HUB, reason)
            closed.append(stored.command.mrid)
    return closed
