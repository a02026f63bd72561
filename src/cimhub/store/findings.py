"""VEE findings as data: stored, queryable by tenant/meter/rule/period, counted per day.

A finding's natural key is (tenant, meter, reading type, rule, first ts, last ts): running
VEE again over the same data finds the same findings and stores nothing new. Findings of
a re-validated window that are no longer found get ``cleared_at`` (kept for the audit).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId
from cimhub.store.sql import insert_ignore, member_of
from cimhub.vee.finding import Finding

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

NATURAL_KEY = ("tenant_id", "meter_id", "reading_type_id", "rule", "first_ts", "last_ts")


class VeeFinding(Base):
    __tablename__ = "vee_finding"
    __table_args__ = (
        UniqueConstraint(*NATURAL_KEY, name="uq_vee_finding"),
        Index("ix_vee_finding_period", "tenant_id", "first_ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    meter_id: Mapped[int] = mapped_column(Integer)
    reading_type_id: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    quality: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    first_ts: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    timestamps: Mapped[str] = mapped_column(Text)  #: JSON list of epoch seconds
    description: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)  #: JSON: what the rule saw
    config_version: Mapped[str] = mapped_column(String(100))
    found_at: Mapped[int] = mapped_column(BigInteger)
    cleared_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


TABLE = cast(Table, VeeFinding.__table__)


@dataclass(frozen=True, slots=True)
class StoredFinding:
    id: int
    meter_id: int
    reading_type_id: int
    rule: str
    severity: str
    quality: str
    first_ts: int
    last_ts: int
    count: int
    description: str
    data: dict[str, Any]
    found_at: int
    cleared_at: int | None


class FindingRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def record(
        self,
        tenant_id: int,
        findings: Sequence[tuple[int, Finding]],
        *,
        windows: Sequence[tuple[int, int, int, int]],
        config_version: str,
        now: int,
    ) -> int:
        """Store (reading type id, finding) pairs; clear the earlier findings of each
        re-validated (meter, reading type, start, end] window that were not found again.
        Returns how many findings are new."""
        rows = [_row(tenant_id, rt_id, f, config_version, now) for rt_id, f in findings]
        known = self._reconcile(tenant_id, windows, {_key(r) for r in rows}, now)
        fresh = [r for r in rows if _key(r) not in known]
        if fresh:
            stmt = insert_ignore(TABLE, self._uow.dialect, *NATURAL_KEY)
            self._uow.session.execute(stmt, fresh)
        return len(fresh)

    def _reconcile(
        self,
        tenant_id: int,
        windows: Sequence[tuple[int, int, int, int]],
        found: set[tuple[Any, ...]],
        now: int,
    ) -> set[tuple[Any, ...]]:
        """Clear what the windows no longer show, revive what shows again; one query.
        Returns the natural keys already stored."""
        if not windows:
            return set()
        c, dialect = TABLE.c, self._uow.dialect
        spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for meter_id, rt_id, start, end in windows:
            spans.setdefault((meter_id, rt_id), []).append((start, end))
        rows = self._uow.session.execute(
            select(c.id, c.cleared_at, *(c[k] for k in NATURAL_KEY)).where(
                c.tenant_id == tenant_id,
                member_of(c.meter_id, {m for m, _ in spans}, dialect),
                c.first_ts > min(w[2] for w in windows),
                c.last_ts <= max(w[3] for w in windows),
            )
        )
        known, stale, revived = set(), [], []
        for row in rows:
            key = tuple(row[2:])
            known.add(key)
            inside = any(
                start < row.first_ts and row.last_ts <= end
                for start, end in spans.get((row.meter_id, row.reading_type_id), ())
            )
            if key in found and row.cleared_at is not None:
                revived.append(row.id)
            elif inside and key not in found and row.cleared_at is None:
                stale.append(row.id)
        for ids, value in ((stale, now), (revived, None)):
            if ids:
                self._uow.session.execute(
                    update(TABLE).where(member_of(c.id, ids, dialect)).values(cleared_at=value)
                )
        return known

    def query(
        self,
        tenant_id: int,
        *,
        meter_ids: Sequence[int] | None = None,
        rules: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        include_cleared: bool = False,
        limit: int = 10_000,
    ) -> list[StoredFinding]:
        """Findings overlapping (start, end], filtered by meters and rules."""
        c, dialect = TABLE.c, self._uow.dialect
        stmt = select(
            c.id,
            c.meter_id,
            c.reading_type_id,
            c.rule,
            c.severity,
            c.quality,
            c.first_ts,
            c.last_ts,
            c.count,
            c.description,
            c.data,
            c.found_at,
            c.cleared_at,
        ).where(c.tenant_id == tenant_id)
        if meter_ids is not None:
            stmt = stmt.where(member_of(c.meter_id, meter_ids, dialect))
        if rules is not None:
            stmt = stmt.where(member_of(c.rule, rules, dialect))
        if start is not None:
            stmt = stmt.where(c.last_ts > start)
        if end is not None:
            stmt = stmt.where(c.first_ts <= end)
        if not include_cleared:
            stmt = stmt.where(c.cleared_at.is_(None))
        rows = self._uow.session.execute(stmt.order_by(c.first_ts, c.id).limit(limit))
        return [StoredFinding(*r[:10], json.loads(r[10]), *r[11:]) for r in rows]

    def daily_counts(self, tenant_id: int, start: int, end: int) -> list[tuple[str, str, int, int]]:
        """(rule, severity, findings, meters) of findings first seen in (start, end]."""
        c = TABLE.c
        stmt = (
            select(c.rule, c.severity, func.count(), func.count(c.meter_id.distinct()))
            .where(
                c.tenant_id == tenant_id,
                c.first_ts > start,
                c.first_ts <= end,
                c.cleared_at.is_(None),
            )
            .group_by(c.rule, c.severity)
            .order_by(c.rule, c.severity)
        )
        return [tuple(r) for r in self._uow.session.execute(stmt)]  # type: ignore[misc]


def _row(tenant_id: int, rt_id: int, f: Finding, config_version: str, now: int) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "meter_id": f.series.meter_id,
        "reading_type_id": rt_id,
        "rule": f.rule,
        "severity": f.severity.value,
        "quality": f.quality,
        "action": f.action.value,
        "first_ts": f.first,
        "last_ts": f.last,
        "count": len(f.timestamps),
        "timestamps": json.dumps(list(f.timestamps)),
        "description": f.description,
        "data": json.dumps(f.data, default=str),
        "config_version": config_version,
        "found_at": now,
        "cleared_at": None,
    }


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in NATURAL_KEY)
