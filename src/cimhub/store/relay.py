"""Each meter's relay over time (0006_meter_relay), as VEE needs it.

The facts stay where they are: RCD-switch events in ``end_device_event`` and executed
connect/disconnect commands in ``end_device_control`` with their moves. Whenever either
changes for a meter (an EndDeviceEvents message with switch events, a head-end reporting
a command executed), ``rederive`` replaces that meter's periods in ``meter_relay`` with
those ``domain.relay.derive_relay`` makes of all its switches, and says which periods
changed, so the readings VEE judged before the switch was known are judged again. VEE
reads the periods in bulk: a flag on its meters query (``has_relay``) and, only for
meters that have one, one query for the batch (``disconnected``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    delete,
    exists,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.domain.command import State
from cimhub.domain.relay import (
    SWITCH_COMMANDS,
    SWITCH_EVENTS,
    Relay,
    RelayPeriod,
    changed_spans,
    derive_relay,
)
from cimhub.store.command_models import CommandRow, TransitionRow
from cimhub.store.event_models import EventRow
from cimhub.store.models import Base, Meter, now
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: The end VEE gives a period still running (as ``store.vee_outages.OPEN_END``).
OPEN_END = 2**62
Span = tuple[int, int | None]


class RelayRow(Base):
    """One period of one meter's relay in one state; the last one of a meter is open."""

    __tablename__ = "meter_relay"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    end: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))  #: connected | disconnected
    derived_at: Mapped[int] = mapped_column(BigInteger)


def has_relay() -> ColumnElement[bool]:
    """Whether the hub knows any switch of the ``Meter`` row (its relay state is known)."""
    return exists().where(RelayRow.tenant_id == Meter.tenant_id, RelayRow.meter_id == Meter.id)


class RelayRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def switches(
        self, tenant_id: int, meter_ids: Collection[int]
    ) -> dict[int, list[tuple[int, Relay]]]:
        """Every switch the hub knows of these meters: (time, state), unordered."""
        dialect, session = self._uow.dialect, self._uow.session
        found: dict[int, list[tuple[int, Relay]]] = {m: [] for m in meter_ids}
        events = session.execute(
            select(EventRow.meter_id, EventRow.ts, EventRow.event_type).where(
                EventRow.tenant_id == tenant_id,
                member_of(EventRow.meter_id, meter_ids, dialect),
                member_of(EventRow.event_type, list(SWITCH_EVENTS), dialect),
            )
        )
        for meter_id, ts, code in events:
            found[meter_id].append((ts, SWITCH_EVENTS[code]))
        kinds = {kind.value: state for kind, state in SWITCH_COMMANDS.items()}
        c, t = CommandRow, TransitionRow
        commands = session.execute(
            select(c.meter_id, t.at, c.kind)
            .join(t, t.command_id == c.id)
            .where(
                c.tenant_id == tenant_id,
                member_of(c.meter_id, meter_ids, dialect),
                member_of(c.kind, list(kinds), dialect),
                t.state == State.EXECUTED.value,
            )
        )
        for meter_id, at, kind in commands:
            found[meter_id].append((at, kinds[kind]))
        return found

    def rederive(self, tenant_id: int, meter_ids: Sequence[int]) -> dict[int, list[Span]]:
        """Replace these meters' periods with those derived from all their switches; per
        meter, the spans whose state changed (None: open to the future)."""
        if not meter_ids:
            return {}
        dialect, session = self._uow.dialect, self._uow.session
        switches = self.switches(tenant_id, meter_ids)
        before = self.periods(tenant_id, meter_ids)
        session.execute(
            delete(RelayRow).where(
                RelayRow.tenant_id == tenant_id, member_of(RelayRow.meter_id, meter_ids, dialect)
            )
        )
        stamp, rows, changed = now(), [], {}
        for meter_id in meter_ids:
            derived = derive_relay(switches.get(meter_id, ()))
            spans = changed_spans(before.get(meter_id, []), derived)
            if spans:
                changed[meter_id] = spans
            rows += [
                {"tenant_id": tenant_id, "meter_id": meter_id, "start": p.start, "end": p.end,
                 "state": p.state.value, "derived_at": stamp}
                for p in derived
            ]  # fmt: skip
        if rows:
            session.execute(insert(RelayRow), rows)
        return changed

    def periods(
        self, tenant_id: int, meter_ids: Collection[int], start: int | None = None,
        end: int | None = None,
    ) -> dict[int, list[RelayPeriod]]:  # fmt: skip
        """These meters' relay periods overlapping (start, end] (all without bounds),
        oldest first."""
        r = RelayRow
        stmt = select(r.meter_id, r.start, r.end, r.state).where(
            r.tenant_id == tenant_id, member_of(r.meter_id, meter_ids, self._uow.dialect)
        )
        if end is not None:
            stmt = stmt.where(r.start < end)
        if start is not None:
            stmt = stmt.where(or_(r.end.is_(None), r.end > start))
        found: dict[int, list[RelayPeriod]] = {}
        for meter_id, first, last, state in self._uow.session.execute(
            stmt.order_by(r.meter_id, r.start)
        ):
            found.setdefault(meter_id, []).append(RelayPeriod(first, last, Relay(state)))
        return found

    def disconnected(
        self, tenant_id: int, meter_ids: Collection[int], start: int, end: int
    ) -> dict[int, tuple[tuple[int, int], ...]]:
        """For VEE: per meter whose relay state is known over (start, end], the periods it
        was open there as (start, end] pairs (a running one ends at ``OPEN_END``); a meter
        left out has no known switch before ``end``."""
        if not meter_ids:
            return {}
        return {
            meter_id: tuple(
                (p.start, OPEN_END if p.end is None else p.end)
                for p in found
                if p.state is Relay.DISCONNECTED
            )
            for meter_id, found in self.periods(tenant_id, meter_ids, start, end).items()
        }
