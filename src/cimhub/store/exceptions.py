"""Exceptions, service orders and their histories (0005_exceptions)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.domain.exception import ACTIVE
from cimhub.store.master_models import Installation
from cimhub.store.models import Base, BigId, IntervalReading, RegisterReading, now
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


class ExceptionRow(Base):
    """One exception on one meter, opened by a rule; later matches add occurrences."""

    __tablename__ = "meter_exception"
    __table_args__ = (
        Index("ix_meter_exception_meter", "tenant_id", "meter_id", "status"),
        Index("ix_meter_exception_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    meter_id: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(100))  # event type or finding rule
    first_at: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[int] = mapped_column(BigInteger)
    occurrences: Mapped[int] = mapped_column(Integer)
    revenue_protection: Mapped[bool] = mapped_column(Boolean)
    service_order_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[str] = mapped_column(Text)  # JSON object
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ServiceOrderRow(Base):
    """Field work for an exception, sent to the WFM; its feedback moves the status."""

    __tablename__ = "service_order"
    __table_args__ = (
        UniqueConstraint("tenant_id", "mrid", name="uq_service_order_mrid"),
        Index("ix_service_order_meter", "tenant_id", "meter_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    mrid: Mapped[str] = mapped_column(String(100))
    meter_id: Mapped[int] = mapped_column(Integer)
    exception_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[int | None] = mapped_column(BigInteger)


class WorkHistoryRow(Base):
    """Every move of an exception or a service order: who, when, to what, why."""

    __tablename__ = "work_history"
    __table_args__ = (Index("ix_work_history_subject", "tenant_id", "subject", "subject_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(16))  # exception | service_order
    subject_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[int] = mapped_column(BigInteger)


class ExceptionSweepRow(Base):
    """How far the findings sweep got for a tenant (the last VEE finding id looked at)."""

    __tablename__ = "exception_sweep"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_finding_id: Mapped[int] = mapped_column(BigInteger)
    swept_at: Mapped[int] = mapped_column(BigInteger)


EXCEPTION, ORDER = "exception", "service_order"


def exception_body(row: ExceptionRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "meter_id": row.meter_id,
        "rule": row.rule,
        "kind": row.kind,
        "severity": row.severity,
        "status": row.status,
        "assignee": row.assignee,
        "source": row.source,
        "first_at": row.first_at,
        "last_at": row.last_at,
        "occurrences": row.occurrences,
        "revenue_protection": row.revenue_protection,
        "service_order_id": row.service_order_id,
        "details": json.loads(row.details or "{}"),
    }


def order_body(row: ServiceOrderRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "mrid": row.mrid,
        "meter_id": row.meter_id,
        "exception_id": row.exception_id,
        "status": row.status,
        "reason": row.reason,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "closed_at": row.closed_at,
    }


class ExceptionRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def session(self) -> Any:
        return self._uow.session

    def active(
        self, tenant_id: int, meter_ids: Iterable[int], statuses: Sequence[str]
    ) -> list[ExceptionRow]:
        meters = set(meter_ids)
        if not meters:
            return []
        d = self._uow.dialect
        return list(
            self.session.scalars(
                select(ExceptionRow).where(
                    ExceptionRow.tenant_id == tenant_id,
                    member_of(ExceptionRow.meter_id, meters, d),
                    member_of(ExceptionRow.status, list(statuses), d),
                )
            )
        )

    def active_of_tenant(self, tenant_id: int, statuses: Sequence[str]) -> list[ExceptionRow]:
        return list(
            self.session.scalars(
                select(ExceptionRow).where(
                    ExceptionRow.tenant_id == tenant_id,
                    member_of(ExceptionRow.status, list(statuses), self._uow.dialect),
                )
            )
        )

    def by_ids(self, tenant_id: int, ids: Iterable[int]) -> list[ExceptionRow]:
        wanted = set(ids)
        if not wanted:
            return []
        return list(
            self.session.scalars(
                select(ExceptionRow).where(
                    ExceptionRow.tenant_id == tenant_id,
                    member_of(ExceptionRow.id, wanted, self._uow.dialect),
                )
            )
        )

    def active_ids(self, tenant_id: int, ids: Iterable[int]) -> set[int]:
        """Those of these exceptions still active (open or assigned)."""
        active = {s.value for s in ACTIVE}
        return {r.id for r in self.by_ids(tenant_id, ids) if r.status in active}

    def active_of_kind(
        self, tenant_id: int, kind: str, statuses: Sequence[str]
    ) -> list[ExceptionRow]:
        return list(
            self.session.scalars(
                select(ExceptionRow).where(
                    ExceptionRow.tenant_id == tenant_id,
                    ExceptionRow.kind == kind,
                    member_of(ExceptionRow.status, list(statuses), self._uow.dialect),
                )
            )
        )

    def metered_orders(self, tenant_id: int, meter_ids: Iterable[int], statuses: Sequence[str]
                       ) -> set[int]:  # fmt: skip
        """The meters among these with a service order in one of ``statuses``."""
        meters = set(meter_ids)
        if not meters:
            return set()
        d = self._uow.dialect
        return set(
            self.session.scalars(
                select(ServiceOrderRow.meter_id).where(
                    ServiceOrderRow.tenant_id == tenant_id,
                    member_of(ServiceOrderRow.meter_id, meters, d),
                    member_of(ServiceOrderRow.status, list(statuses), d),
                )
            )
        )

    def add(self, row: Any) -> Any:
        self.session.add(row)
        self.session.flush()
        return row

    def record(self, tenant_id: int, subject: str, subject_id: int, status: str, actor: str,
               note: str = "") -> None:  # fmt: skip
        self.session.add(
            WorkHistoryRow(
                tenant_id=tenant_id,
                subject=subject,
                subject_id=subject_id,
                status=status,
                actor=actor,
                note=note,
                at=now(),
            )
        )

    def history(self, tenant_id: int, subject: str, subject_id: int) -> list[dict[str, Any]]:
        rows = self.session.scalars(
            select(WorkHistoryRow)
            .where(
                WorkHistoryRow.tenant_id == tenant_id,
                WorkHistoryRow.subject == subject,
                WorkHistoryRow.subject_id == subject_id,
            )
            .order_by(WorkHistoryRow.id)
        )
        return [{"status": r.status, "actor": r.actor, "note": r.note, "at": r.at} for r in rows]

    def get(self, model: Any, tenant_id: int, *, lock: bool = False, **key: Any) -> Any:
        """One exception or service order by key; ``lock``ed (FOR UPDATE on PostgreSQL)
        when it is to be moved, so two moves never interleave."""
        stmt = select(model).where(model.tenant_id == tenant_id)
        for name, value in key.items():
            stmt = stmt.where(getattr(model, name) == value)
        if lock and self._uow.dialect == "postgresql":
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def page(self, model: Any, tenant_id: int, filters: dict[str, Any], limit: int, offset: int
             ) -> tuple[list[Any], int]:  # fmt: skip
        where = [model.tenant_id == tenant_id]
        where += [getattr(model, k) == v for k, v in filters.items() if v is not None]
        total = self.session.scalar(select(func.count()).select_from(model).where(*where))
        rows = self.session.scalars(
            select(model).where(*where).order_by(model.id.desc()).limit(limit).offset(offset)
        )
        return list(rows), int(total or 0)

    def last_finding(self, tenant_id: int) -> int:
        row = self.session.get(ExceptionSweepRow, tenant_id)
        return 0 if row is None else row.last_finding_id

    def swept(self, tenant_id: int, last_finding_id: int) -> None:
        row = self.session.get(ExceptionSweepRow, tenant_id)
        if row is None:
            self.session.add(
                ExceptionSweepRow(
                    tenant_id=tenant_id, last_finding_id=last_finding_id, swept_at=now()
                )
            )
        else:
            row.last_finding_id, row.swept_at = last_finding_id, now()
        self.session.flush()

    def silent_meters(self, tenant_id: int, cutoff: int) -> dict[int, int]:
        """Installed meters with no reading since ``cutoff``: meter id → last data time
        (the installation's start when it never sent any)."""
        inst = Installation
        installed = dict(
            self.session.execute(
                select(inst.meter_id, func.min(inst.start_ts))
                .where(inst.tenant_id == tenant_id, inst.end_ts.is_(None),
                       inst.canceled.is_(False))
                .group_by(inst.meter_id)
            ).all()
        )  # fmt: skip
        last: dict[int, int] = {}
        for table in (IntervalReading, RegisterReading):
            for meter_id, ts in self.session.execute(
                select(table.meter_id, func.max(table.ts))
                .where(table.tenant_id == tenant_id)
                .group_by(table.meter_id)
            ):
                last[meter_id] = max(ts, last.get(meter_id, ts))
        seen = {m: last.get(m, start) for m, start in installed.items()}
        return {m: ts for m, ts in seen.items() if ts < cutoff}
