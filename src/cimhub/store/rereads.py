"""Re-reads of missed intervals: one row per (meter, gap period), with its attempts, the
READ command asking for it now, and whether VEE estimated the gap meanwhile.

The gaps come from VEE's open ``interval.missing`` findings; a row is how the sweep
remembers what it asked, so no gap is asked for endlessly (migration 0006_reread).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.domain.meter_read import Period, RereadState
from cimhub.store.findings import VeeFinding
from cimhub.store.models import Base, BigId, Meter, ReadingType, now

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

MISSING_RULE = "interval.missing"


class RereadRow(Base):
    __tablename__ = "reread_request"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "meter_id", "period_start", "period_end", name="uq_reread_request"
        ),
        Index("ix_reread_request_state", "tenant_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    meter_id: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
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

    @property
    def period(self) -> Period:
        return Period(self.first_ts - self.step, self.last_ts)


class RereadRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def gaps(self, tenant_id: int, ended_by: int) -> list[Gap]:
        """The tenant's open missing-interval findings whose last interval ends by
        ``ended_by``, with their meter's head-end and interval length."""
        f = VeeFinding
        rows = self._uow.session.execute(
            select(f.meter_id, Meter.hes, f.first_ts, f.last_ts, ReadingType.interval_seconds)
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

    def rows(self, tenant_id: int, states: set[RereadState] | None = None) -> list[RereadRow]:
        """The tenant's re-reads (in these states), locked until commit on PostgreSQL."""
        query = select(RereadRow).where(RereadRow.tenant_id == tenant_id)
        if states:
            query = query.where(RereadRow.state.in_([s.value for s in states]))
        if self._uow.dialect == "postgresql":
            query = query.with_for_update()
        return list(self._uow.session.scalars(query.order_by(RereadRow.id)).all())

    def add(self, tenant_id: int, meter_id: int, period: Period, reason: str) -> RereadRow:
        stamp = now()
        row = RereadRow(
            tenant_id=tenant_id, meter_id=meter_id, period_start=period.start,
            period_end=period.end, state=RereadState.OPEN.value, attempts=0, reason=reason,
            created_at=stamp, updated_at=stamp,
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
