"""Commands (EndDeviceControls): stored with every move, head-end endpoints, the command outbox.

The command outbox (``hes_dispatch``) is written in the transaction that makes a command
``sent``; the HES dispatcher hands each row to its head-end after commit and retries with
back-off while the head-end is down, so a command is never lost between hub and HES.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, text, update

from cimhub.domain.command import Command, CommandKind, State, Transition
from cimhub.domain.meter_read import Period
from cimhub.domain.reading import MeterRef
from cimhub.store.audit import AuditLog
from cimhub.store.command_models import CommandRow, DispatchRow, HesEndpointRow, TransitionRow
from cimhub.store.models import Meter, now
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: The first key of the advisory locks that serialise new reads per meter (arbitrary).
READ_LOCK_KEY = 61968_9


@dataclass(frozen=True, slots=True)
class HesEndpoint:
    name: str
    kind: str  # soap | http | mqtt
    url: str = ""
    vendor: str | None = None
    read_as: str = "get"  #: a CIM head-end's reads: get (GetMeterReadings) | control (3.21.0.8)


@dataclass(slots=True)
class StoredCommand:
    id: int
    tenant_id: int
    meter_id: int
    command: Command
    hes: str | None
    created_at: int
    sent_at: int | None
    saved_moves: int  # how many of command.history are stored already


@dataclass(frozen=True, slots=True)
class Dispatch:
    id: int
    tenant_id: int
    command_id: int
    attempts: int


class CommandRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    # ----- commands -----

    def add(self, tenant_id: int, meter_id: int, command: Command, log_id: int | None) -> int:
        """Store a new command with its moves so far; its id."""
        stamp = now()
        row = CommandRow(
            tenant_id=tenant_id,
            mrid=command.mrid,
            kind=command.kind.value,
            control_type=_code(command.kind),
            meter_id=meter_id,
            state=command.state.value,
            requester=command.requester,
            source=command.source,
            reason=command.reason,
            demand_limit_w=command.demand_limit_w,
            correlation_id=command.correlation_id,
            created_at=stamp,
            updated_at=stamp,
            message_log_id=log_id,
            period_start=command.period.start if command.period else None,
            period_end=command.period.end if command.period else None,
            reading_types=" ".join(command.reading_types) or None,
        )
        self._uow.session.add(row)
        self._uow.session.flush()
        self._moves(tenant_id, row.id, command.mrid, command.history)
        return row.id

    def save(self, stored: StoredCommand) -> None:
        """Write the command's new moves and its current state."""
        new = stored.command.history[stored.saved_moves :]
        if not new:
            return
        values: dict[str, object] = {"state": stored.command.state.value, "updated_at": now()}
        if any(t.state is State.SENT for t in new):
            values["sent_at"] = next(t.at for t in new if t.state is State.SENT)
            values["hes"] = stored.hes
        self._uow.session.execute(
            update(CommandRow).where(CommandRow.id == stored.id).values(**values)
        )
        self._moves(stored.tenant_id, stored.id, stored.command.mrid, new)
        stored.saved_moves = len(stored.command.history)

    def _moves(
        self, tenant_id: int, command_id: int, mrid: str, moves: Sequence[Transition]
    ) -> None:
        """Store the moves, and append each to the audit chain: who asked, approved,
        canceled, sent; what the head-end answered."""
        tenant = self._uow.tenants.code_of(tenant_id)
        audit = AuditLog(self._uow)
        for t in moves:
            after = {"state": t.state.value, "reason": t.reason} if t.reason else t.state.value
            audit.record(t.actor, f"command.{t.state.value}", f"command:{mrid}", tenant=tenant,
                         after=after, at=t.at)  # fmt: skip
        rows = [
            {
                "tenant_id": tenant_id,
                "command_id": command_id,
                "state": t.state.value,
                "at": t.at,
                "actor": t.actor[:100],
                "reason": t.reason,
            }
            for t in moves
        ]
        if rows:
            self._uow.session.execute(insert(TransitionRow), rows)

    def by_mrid(
        self, tenant_id: int, mrids: Sequence[str], *, lock: bool = False
    ) -> dict[str, StoredCommand]:
        """The named commands; ``lock`` holds their rows until commit (PostgreSQL), so two
        moves of one command (a head-end's status, the dispatcher's ack) never interleave."""
        if not mrids:
            return {}
        query = select(CommandRow).where(
            CommandRow.tenant_id == tenant_id,
            member_of(CommandRow.mrid, set(mrids), self._uow.dialect),
        )
        if lock:
            query = query.order_by(CommandRow.id).with_for_update()
        rows = self._uow.session.scalars(query).all()
        return {s.command.mrid: s for s in self._load(rows)}

    def by_id(self, command_id: int, *, lock: bool = False) -> StoredCommand | None:
        row = self._uow.session.get(CommandRow, command_id, with_for_update=lock)
        return self._load([row])[0] if row is not None else None

    def query(
        self,
        tenant_id: int,
        *,
        states: Sequence[str] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[StoredCommand], int]:
        """Newest first, with the total that matches."""
        cond = [CommandRow.tenant_id == tenant_id]
        if states:
            cond.append(member_of(CommandRow.state, set(states), self._uow.dialect))
        total = self._uow.session.scalar(select(func.count()).select_from(CommandRow).where(*cond))
        rows = self._uow.session.scalars(
            select(CommandRow).where(*cond).order_by(CommandRow.id.desc()).limit(limit)
            .offset(offset)
        ).all()  # fmt: skip
        return self._load(rows), int(total or 0)

    def open_for_meter(
        self, tenant_id: int, meter_id: int, kind: CommandKind, states: frozenset[State]
    ) -> StoredCommand | None:
        """The meter's newest command of this kind still waiting for its outcome."""
        row = self._uow.session.scalars(
            select(CommandRow)
            .where(
                CommandRow.tenant_id == tenant_id,
                CommandRow.meter_id == meter_id,
                CommandRow.kind == kind.value,
                member_of(CommandRow.state, {s.value for s in states}, self._uow.dialect),
            )
            .order_by(CommandRow.id.desc())
            .limit(1)
            .with_for_update()
        ).first()
        return self._load([row])[0] if row is not None else None

    def of_meters(
        self,
        tenant_id: int,
        meter_ids: Sequence[int],
        kind: CommandKind,
        states: frozenset[State],
        *,
        lock: bool = False,
    ) -> list[StoredCommand]:
        """The meters' commands of this kind in these states, oldest first; ``lock`` holds
        their rows until commit (PostgreSQL) so two closers never move one twice."""
        if not meter_ids:
            return []
        query = (
            select(CommandRow)
            .where(
                CommandRow.tenant_id == tenant_id,
                member_of(CommandRow.meter_id, set(meter_ids), self._uow.dialect),
                CommandRow.kind == kind.value,
                member_of(CommandRow.state, {s.value for s in states}, self._uow.dialect),
            )
            .order_by(CommandRow.id)
        )
        if lock:
            query = query.with_for_update()
        return self._load(self._uow.session.scalars(query).all())

    def lock_reads(self, meter_ids: Sequence[int]) -> None:
        """Hold, until commit, the right to add reads for these meters (PostgreSQL; SQLite
        has one writer): two queries at once for one stale meter then ask one read."""
        if self._uow.dialect != "postgresql":
            return
        for meter_id in sorted(set(meter_ids)):  # one order everywhere: no deadlock
            self._uow.session.execute(
                text("SELECT pg_advisory_xact_lock(:key, :meter)"),
                {"key": READ_LOCK_KEY, "meter": meter_id},
            )

    def summary(self, tenant_id: int) -> list[tuple[str, str, int]]:
        """(kind, state, how many) of the tenant's commands."""
        rows = self._uow.session.execute(
            select(CommandRow.kind, CommandRow.state, func.count())
            .where(CommandRow.tenant_id == tenant_id)
            .group_by(CommandRow.kind, CommandRow.state)
            .order_by(CommandRow.kind, CommandRow.state)
        )
        return [(k, s, int(n)) for k, s, n in rows]

    def unanswered_since(self, cutoff: int) -> list[StoredCommand]:
        """Every tenant's commands sent before ``cutoff`` and not acknowledged since."""
        rows = self._uow.session.scalars(
            select(CommandRow)
            .where(CommandRow.state == State.SENT.value, CommandRow.sent_at < cutoff)
            .with_for_update(skip_locked=True)
        ).all()
        return self._load(rows)

    def without_outcome_since(self, cutoff: int) -> list[StoredCommand]:
        """Every tenant's commands acknowledged before ``cutoff`` with no outcome since."""
        rows = self._uow.session.scalars(
            select(CommandRow)
            .where(CommandRow.state == State.ACKNOWLEDGED.value, CommandRow.updated_at < cutoff)
            .with_for_update(skip_locked=True)
        ).all()
        return self._load(rows)

    def _load(self, rows: Sequence[CommandRow]) -> list[StoredCommand]:
        if not rows:
            return []
        moves: dict[int, list[Transition]] = {r.id: [] for r in rows}
        for t in self._uow.session.scalars(
            select(TransitionRow)
            .where(member_of(TransitionRow.command_id, set(moves), self._uow.dialect))
            .order_by(TransitionRow.id)
        ):
            moves[t.command_id].append(Transition(State(t.state), t.at, t.actor, t.reason))
        names: dict[int, MeterRef] = {}
        for tenant in {r.tenant_id for r in rows}:
            ids = {r.meter_id for r in rows if r.tenant_id == tenant}
            names |= self._uow.meters.describe(tenant, ids)
        out = []
        for r in rows:
            command = Command(
                mrid=r.mrid,
                kind=CommandKind(r.kind),
                meter=names.get(r.meter_id, MeterRef(str(r.meter_id))),
                requester=r.requester,
                source=r.source,
                reason=r.reason,
                demand_limit_w=r.demand_limit_w,
                correlation_id=r.correlation_id,
                history=moves[r.id],
                period=_period(r),
                reading_types=tuple((r.reading_types or "").split()),
            )
            out.append(
                StoredCommand(
                    r.id, r.tenant_id, r.meter_id, command, r.hes, r.created_at, r.sent_at,
                    len(command.history),
                )
            )  # fmt: skip
        return out

    # ----- head-end endpoints -----

    def meter_hes(self, tenant_id: int, meter_id: int) -> str | None:
        return self._uow.session.scalar(
            select(Meter.hes).where(Meter.tenant_id == tenant_id, Meter.id == meter_id)
        )

    def endpoint(self, tenant_id: int, name: str) -> HesEndpoint | None:
        row = self._uow.session.get(HesEndpointRow, (tenant_id, name))
        return _endpoint(row) if row else None

    def endpoints(self, tenant_id: int) -> list[HesEndpoint]:
        rows = self._uow.session.scalars(
            select(HesEndpointRow)
            .where(HesEndpointRow.tenant_id == tenant_id)
            .order_by(HesEndpointRow.name)
        )
        return [_endpoint(r) for r in rows]

    def put_endpoint(self, tenant_id: int, endpoint: HesEndpoint) -> None:
        session = self._uow.session
        row = session.get(HesEndpointRow, (tenant_id, endpoint.name))
        if row is None:
            row = HesEndpointRow(tenant_id=tenant_id, name=endpoint.name)
            session.add(row)
        row.kind, row.url, row.vendor = endpoint.kind, endpoint.url, endpoint.vendor
        row.read_as = endpoint.read_as
        session.flush()

    # ----- the command outbox -----

    def enqueue(self, tenant_id: int, command_id: int) -> None:
        self._uow.session.execute(
            insert(DispatchRow),
            [
                {
                    "tenant_id": tenant_id,
                    "command_id": command_id,
                    "attempts": 0,
                    "next_attempt_at": time.time(),
                    "created_at": now(),
                }
            ],
        )

    def claim(self, lease_seconds: float, limit: int = 50) -> list[Dispatch]:
        """Due rows, leased for ``lease_seconds`` so another dispatcher (another process)
        does not send them too; rows locked by a concurrent claim are skipped (PostgreSQL)."""
        query = (
            select(DispatchRow)
            .where(DispatchRow.done_at.is_(None), DispatchRow.next_attempt_at <= time.time())
            .order_by(DispatchRow.id)
            .limit(limit)
        )
        if self._uow.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = self._uow.session.scalars(query).all()
        for row in rows:
            row.next_attempt_at = time.time() + lease_seconds
        self._uow.session.flush()
        return [Dispatch(r.id, r.tenant_id, r.command_id, r.attempts) for r in rows]

    def due(self, limit: int = 50) -> list[Dispatch]:
        """Due rows, not claimed (for reports and tests)."""
        rows = self._uow.session.execute(
            select(
                DispatchRow.id, DispatchRow.tenant_id, DispatchRow.command_id, DispatchRow.attempts
            )
            .where(DispatchRow.done_at.is_(None), DispatchRow.next_attempt_at <= time.time())
            .order_by(DispatchRow.id)
            .limit(limit)
        )
        return [Dispatch(*row) for row in rows]

    def finish(self, dispatch_id: int, error: str | None = None) -> None:
        self._uow.session.execute(
            update(DispatchRow)
            .where(DispatchRow.id == dispatch_id)
            .values(done_at=now(), last_error=error)
        )

    def finish_command(self, command_id: int, reason: str) -> None:
        """Stop handing a command to its head-end (it timed out or was closed)."""
        self._uow.session.execute(
            update(DispatchRow)
            .where(DispatchRow.command_id == command_id, DispatchRow.done_at.is_(None))
            .values(done_at=now(), last_error=reason)
        )

    def retry_later(self, dispatch_id: int, attempts: int, delay: float, error: str) -> None:
        self._uow.session.execute(
            update(DispatchRow)
            .where(DispatchRow.id == dispatch_id)
            .values(attempts=attempts, next_attempt_at=time.time() + delay, last_error=error)
        )

    def dispatch_errors(self, command_id: int) -> list[tuple[int, str | None]]:
        """(attempts, last error) of the command's dispatches, for reports and tests."""
        return [
            (a, e)
            for a, e in self._uow.session.execute(
                select(DispatchRow.attempts, DispatchRow.last_error)
                .where(DispatchRow.command_id == command_id)
                .order_by(DispatchRow.id)
            )
        ]


def _endpoint(row: HesEndpointRow) -> HesEndpoint:
    return HesEndpoint(row.name, row.kind, row.url, row.vendor, row.read_as or "get")


def _period(row: CommandRow) -> Period | None:
    if row.period_start is None or row.period_end is None:
        return None
    return Period(row.period_start, row.period_end)


def _code(kind: CommandKind) -> str:
    from cimhub.domain.command import CONTROL_CODES

    return CONTROL_CODES[kind]
