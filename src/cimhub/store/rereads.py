"""Re-reads of missed intervals: one row per (meter, gap period), with its attempts, the
READ command asking for it now, and whether VEE estimated the gap meanwhile; and one per
(meter, newest reading) for meters that stopped reporting (kind ``silent``).

The gaps come from VEE's open ``interval.missing`` findings, the silent meters from their
newest interval reading; a row is how the sweep remembers what it asked, so nothing is
asked for endlessly (migrations 0006_reread, 0007_hes_reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.domain.lifecycle import Stage
from cimhub.domain.meter_read import Period, RereadKind, RereadState
from cimhub.store.findings import VeeFinding
from cimhub.store.models import Base, BigId, IntervalReading, Meter, ReadingType, now

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

MISSING_RULE = "interval.missing"


class RereadRow(Base):
    __tablename__ = "reread_request"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "meter_id", "kind", "period_start", "period_end", name="uq_reread_request"
        ),
        Index("ix_reread_request_state", "tenant_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    meter_id: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    #: gap (VEE's missing intervals) | silent (nothing since the newest reading) (0007)
    kind: Mapped[str] = mapped_column(String(8), default="gap", server_default="gap")
    attempts: Mapped[int] = mapped_column(Integer)
    command_id: Mapped[int | None] = mapped_column(BigInteger)  # the latest READ asked
    first_asked_at: Mapped[int | None] = mapped_column(BigInteger)
    asked_at: Mapped[int | None] = mapped_column(BigInteger)
    estimated_at: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)

    @property
    def period(self) -> Period:
        return Period(self.period_start, self.period_end)


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing intervals of one meter, as VEE found them (interval ends first…last)."""

    meter_id: int
    hes: str | None
    first_ts: int
    last_ts: int
    step: int
    reading_type: str = ""  #: the ReadingType code of the finding

    @property
    def period(self) -> Period:
        return Period(self.first_ts - self.step, self.last_ts)


@dataclass(frozen=True, slots=True)
class Silent:
    """A meter in service with a head-end whose newest interval reading is ``newest``."""

    meter_id: int
    hes: str
    newest: int
    step: int  #: the interval length of the series that reading belongs to


class RereadRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def gaps(self, tenant_id: int, ended_by: int) -> list[Gap]:
        """The tenant's open missing-interval findings whose last interval ends by
        ``ended_by``, with their meter's head-end and interval length."""
        f = VeeFinding
        rows = self._uow.session.execute(
            select(
                f.meter_id,
                Meter.hes,
                f.first_ts,
                f.last_ts,
                ReadingType.interval_seconds,
                ReadingType.code,
            )
            .join(Meter, (Meter.id == f.meter_id) & (Meter.tenant_id == f.tenant_id))
            .join(ReadingType, ReadingType.id == f.reading_type_id)
            .where(
                f.tenant_id == tenant_id,
                f.rule == MISSING_RULE,
                f.cleared_at.is_(None),
                f.last_ts <= ended_by,
            )
            .order_by(f.meter_id, f.first_ts)
        )
        return [Gap(*row) for row in rows if row[4]]

    def silent(self, tenant_id: int, quiet_since: int, memory_from: int) -> list[Silent]:
        """The tenant's meters in service with a head-end whose newest interval reading
        stamped after ``memory_from`` is no newer than ``quiet_since`` (a meter with no
        reading in that time is left out: nothing to ask from)."""
        r, m = IntervalReading, Meter
        rows = self._uow.session.execute(
            select(r.meter_id, m.hes, func.max(r.ts), ReadingType.interval_seconds)
            .join(m, (m.id == r.meter_id) & (m.tenant_id == r.tenant_id))
            .join(ReadingType, ReadingType.id == r.reading_type_id)
            .where(
                r.tenant_id == tenant_id,
                r.ts > memory_from,
                m.hes.is_not(None),
                m.hes != "",
                m.lifecycle_stage == Stage.IN_SERVICE.value,
                m.record_status == "active",
            )
            .group_by(r.meter_id, m.hes, ReadingType.interval_seconds)
        )
        newest: dict[int, Silent] = {}
        for meter_id, hes, ts, step in rows:
            seen = newest.get(meter_id)
            if seen is None or (ts, -step) > (seen.newest, -seen.step):
                newest[meter_id] = Silent(meter_id, hes, ts, step)
        return [s for s in newest.values() if s.newest <= quiet_since]

    def rows(
        self,
        tenant_id: int,
        states: set[RereadState] | None = None,
        kind: RereadKind | None = None,
    ) -> list[RereadRow]:
        """The tenant's re-reads (in these states, of this kind), locked until commit on
        PostgreSQL."""
        query = select(RereadRow).where(RereadRow.tenant_id == tenant_id)
        if kind is not None:
            query = query.where(RereadRow.kind == kind.value)
        if states:
            query = query.where(RereadRow.state.in_([s.value for s in states]))
        if self._uow.dialect == "postgresql":
            query = query.with_for_update()
        return list(self._uow.session.scalars(query.order_by(RereadRow.id)).all())

    def add(
        self,
        tenant_id: int,
        meter_id: int,
        period: Period,
        reason: str,
        kind: RereadKind = RereadKind.GAP,
    ) -> RereadRow:
        stamp = now()
        row = RereadRow(
            tenant_id=tenant_id, meter_id=meter_id, period_start=period.start,
            period_end=period.end, state=RereadState.OPEN.value, attempts=0, reason=reason,
            kind=kind.value, created_at=stamp, updated_at=stamp,
        )  # fmt: skip
        self._uow.session.add(row)
        self._uow.session.flush()
        return row

    def move(self, row: RereadRow, state: RereadState, reason: str) -> None:
        row.state, row.reason, row.updated_at = state.value, reason, now()

    def asked(self, row: RereadRow, command_id: int, at: int) -> None:
        row.attempts += 1
        row.command_id, row.asked_at, row.updated_at = command_id, at, now()
        if row.first_asked_at is None:
            row.first_asked_at = at
