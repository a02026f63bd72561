"""VEE findings as data: stored, queryable by tenant/meter/rule/period, counted per day.

A finding's natural key is (tenant, meter, reading type, rule, first ts, last ts): running
VEE again over the same data finds the same findings and stores nothing new. Findings of
a re-validated window that are no longer found get ``cleared_at`` (kept for the audit).
A finding found again with another verdict — a gap only noted while younger than the
re-acquisition wait and estimated after it, an ``outage`` flag that changed when late
power events re-judged it — is updated in place (``VERDICT``: severity, quality, action,
count, description, data), keeping its id, first-seen time and review. New, cleared,
revived and updated findings are announced through the outbox in the transaction that
stored them (``store.finding_events``). Exception rules take each finding once
(``claim``: ``exceptions_at``), whether promptly or in the periodic sweep, and a revived
one once more; a finding remembers the exception it opened or added to
(``exception_id``), so clearing every finding of an exception can resolve it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.domain.installation import Window
from cimhub.store.finding_events import FIELDS, FindingEvents
from cimhub.store.models import Base, BigId
from cimhub.store.sql import insert_ignore, member_of, within_windows
from cimhub.vee.finding import Finding

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

NATURAL_KEY = ("tenant_id", "meter_id", "reading_type_id", "rule", "first_ts", "last_ts")
#: What a re-found finding may say differently; a change updates it in place (keeping its
#: id, first-seen time, review and exception claim) and is announced as ``changed``.
VERDICT = ("severity", "quality", "action", "count", "description", "data")
#: Updated with the verdict (not compared: a new configuration alone changes nothing).
ALSO = ("timestamps", "config_version")


class VeeFinding(Base):
    __tablename__ = "vee_finding"
    __table_args__ = (
        UniqueConstraint(*NATURAL_KEY, name="uq_vee_finding"),
        Index("ix_vee_finding_period", "tenant_id", "first_ts"),
        Index(
            "ix_vee_finding_unclaimed",
            "tenant_id",
            "id",
            postgresql_where=text("exceptions_at IS NULL"),
            sqlite_where=text("exceptions_at IS NULL"),
        ),
        Index(
            "ix_vee_finding_exception",
            "tenant_id",
            "exception_id",
            postgresql_where=text("exception_id IS NOT NULL"),
            sqlite_where=text("exception_id IS NOT NULL"),
        ),
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
    review: Mapped[str] = mapped_column(String(16), default="new", server_default="new")
    reviewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: when exception rules took the finding (0006); None: not yet
    exceptions_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: the exception it opened or added to (0006_finding_exception); None: none
    exception_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


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
    review: str = "new"  #: a person's review: new, acknowledged, closed
    reviewed_by: str | None = None
    reviewed_at: int | None = None
    review_note: str | None = None


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
        re-validated (meter, reading type, start, end] window that were not found again,
        and announce what changed. Returns how many findings are new."""
        rows = [_row(tenant_id, rt_id, f, config_version, now) for rt_id, f in findings]
        known, moved, revived = self._reconcile(tenant_id, windows, {_key(r): r for r in rows}, now)
        fresh = [r for r in rows if _key(r) not in known]
        created = []
        if fresh:
            ids = {tuple(r[1:]): r[0] for r in self._insert(fresh)}
            by_id = {ids[_key(r)]: {**r, "id": ids[_key(r)]} for r in fresh if _key(r) in ids}
            created = list(by_id.values())
        if created or moved:
            FindingEvents(self._uow).announce(
                tenant_id, created, self._snapshots(tenant_id, moved) if moved else [], revived
            )
        return len(fresh)

    def _insert(self, rows: list[dict[str, Any]]) -> Sequence[Any]:
        """Insert-or-ignore new findings; (id, *natural key) of those stored. On PostgreSQL
        one short statement over column arrays (a multi-row VALUES of thousands of
        findings costs the driver more to parse than the server to run)."""
        session = self._uow.session
        if self._uow.dialect == "postgresql":
            params = {k: [r[k] for r in rows] for k in INSERTED}
            return session.execute(UNNEST_INSERT, params).all()
        c = TABLE.c
        stmt = insert_ignore(TABLE, self._uow.dialect, *NATURAL_KEY)
        return session.execute(stmt.returning(c.id, *(c[k] for k in NATURAL_KEY)), rows).all()

    def _reconcile(
        self,
        tenant_id: int,
        windows: Sequence[tuple[int, int, int, int]],
        found: Mapping[tuple[Any, ...], dict[str, Any]],
        now: int,
    ) -> tuple[set[tuple[Any, ...]], list[int], list[int]]:
        """Clear what the windows no longer show, revive what shows again (for exception
        rules to take again), bring up to date what shows differently (severity, action,
        details); one query. Returns the natural keys already stored, the ids cleared,
        revived or updated, and those revived."""
        if not windows:
            return set(), [], []
        c, dialect = TABLE.c, self._uow.dialect
        spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for meter_id, rt_id, start, end in windows:
            spans.setdefault((meter_id, rt_id), []).append((start, end))
        rows = self._uow.session.execute(
            select(
                c.id, c.cleared_at, *(c[k] for k in NATURAL_KEY), *(c[k] for k in VERDICT)
            ).where(
                c.tenant_id == tenant_id,
                member_of(c.meter_id, {m for m, _ in spans}, dialect),
                c.first_ts > min(w[2] for w in windows),
                c.last_ts <= max(w[3] for w in windows),
            )
        )
        known, stale, revived, updated = set(), [], [], []
        width = 2 + len(NATURAL_KEY)
        for row in rows:
            key = tuple(row[2:width])
            known.add(key)
            inside = any(
                start < row.first_ts and row.last_ts <= end
                for start, end in spans.get((row.meter_id, row.reading_type_id), ())
            )
            new = found.get(key)
            if new is not None and row.cleared_at is not None:
                revived.append(row.id)
            elif inside and new is None and row.cleared_at is None:
                stale.append(row.id)
            if new is not None and tuple(row[width:]) != tuple(new[k] for k in VERDICT):
                updated.append({"_id": row.id, **{f"_{k}": new[k] for k in (*VERDICT, *ALSO)}})
        if stale:
            self._uow.session.execute(
                update(TABLE).where(member_of(c.id, stale, dialect)).values(cleared_at=now)
            )
        if revived:
            self._uow.session.execute(
                update(TABLE)
                .where(member_of(c.id, revived, dialect))
                .values(cleared_at=None, exceptions_at=None)
            )
        if updated:  # a gap first noted, then estimated; a flag that changed on re-judging
            values = {k: bindparam(f"_{k}") for k in (*VERDICT, *ALSO)}
            stmt = update(TABLE).where(c.id == bindparam("_id")).values(**values)
            self._uow.session.execute(stmt, updated)
        return known, sorted({*stale, *revived, *(u["_id"] for u in updated)}), revived

    def _snapshots(self, tenant_id: int, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Findings as their announcements carry them (see ``store.finding_events``)."""
        c = TABLE.c
        rows = self._uow.session.execute(
            select(*(c[k] for k in FIELDS)).where(
                c.tenant_id == tenant_id, member_of(c.id, ids, self._uow.dialect)
            )
        )
        return [dict(zip(FIELDS, r, strict=True)) for r in rows]

    def claim(
        self, tenant_id: int, now: int, ids: Sequence[int] | None = None
    ) -> list[tuple[int, int, str, int, str, int | None, int | None]]:
        """Mark findings as taken by exception rules and return them, each once: those
        of ``ids``, or every one not taken yet. (id, meter id, rule, last ts, description,
        cleared at, the exception it was linked to when taken before and revived), oldest
        first. A concurrent claim of the same finding gets nothing."""
        c = TABLE.c
        stmt = update(TABLE).where(c.tenant_id == tenant_id, c.exceptions_at.is_(None))
        if ids is not None:
            if not ids:
                return []
            stmt = stmt.where(member_of(c.id, ids, self._uow.dialect))
        rows = self._uow.session.execute(
            stmt.values(exceptions_at=now)
            .returning(
                c.id, c.meter_id, c.rule, c.last_ts, c.description, c.cleared_at, c.exception_id
            )
            .execution_options(synchronize_session=False)
        ).all()
        return sorted((tuple(r) for r in rows), key=lambda r: r[0])  # type: ignore[misc]

    def link(self, tenant_id: int, links: Mapping[int, Sequence[int]]) -> None:
        """Record the exception (key) each of these findings (value) opened or added to."""
        c, dialect = TABLE.c, self._uow.dialect
        for exception_id, ids in links.items():
            self._uow.session.execute(
                update(TABLE)
                .where(c.tenant_id == tenant_id, member_of(c.id, ids, dialect))
                .values(exception_id=exception_id)
            )

    def standing(
        self, tenant_id: int, exception_ids: Collection[int]
    ) -> dict[int, tuple[int, int]]:
        """Per exception among these with findings linked: (how many, how many still open)."""
        if not exception_ids:
            return {}
        c = TABLE.c
        still_open = func.sum(case((c.cleared_at.is_(None), 1), else_=0))
        rows = self._uow.session.execute(
            select(c.exception_id, func.count(), still_open)
            .where(
                c.tenant_id == tenant_id,
                member_of(c.exception_id, exception_ids, self._uow.dialect),
            )
            .group_by(c.exception_id)
        )
        return {e: (int(n), int(o or 0)) for e, n, o in rows}

    def exceptions_of(self, tenant_id: int, finding_ids: Sequence[int]) -> set[int]:
        """The exceptions these findings opened or added to."""
        if not finding_ids:
            return set()
        c = TABLE.c
        return set(
            self._uow.session.scalars(
                select(c.exception_id).where(
                    c.tenant_id == tenant_id,
                    member_of(c.id, finding_ids, self._uow.dialect),
                    c.exception_id.is_not(None),
                )
            )
        )

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

    def page(
        self, tenant_id: int, where: FindingFilter, *, limit: int, offset: int
    ) -> tuple[list[StoredFinding], int]:
        """One page of findings (oldest first) and how many match in all (REST)."""
        c = TABLE.c
        condition = and_(c.tenant_id == tenant_id, *_conditions(where, self._uow.dialect))
        total = self._uow.session.execute(
            select(func.count()).select_from(TABLE).where(condition)
        ).scalar_one()
        stmt = select(*_COLUMNS).where(condition).order_by(c.first_ts, c.id)
        rows = self._uow.session.execute(stmt.limit(limit).offset(offset))
        return [_stored(r) for r in rows], int(total)

    def one(self, tenant_id: int, finding_id: int) -> tuple[StoredFinding, list[int]] | None:
        """One finding of the tenant and every timestamp it concerns, or None."""
        c = TABLE.c
        row = self._uow.session.execute(
            select(*_COLUMNS, c.timestamps).where(c.tenant_id == tenant_id, c.id == finding_id)
        ).first()
        if row is None:
            return None
        return _stored(row), [int(ts) for ts in json.loads(row.timestamps)]

    def review(
        self, tenant_id: int, finding_id: int, review: str, *, by: str, note: str, now: int
    ) -> None:
        """Record a person's review of one finding (the caller checked the move)."""
        c = TABLE.c
        self._uow.session.execute(
            update(TABLE)
            .where(c.tenant_id == tenant_id, c.id == finding_id)
            .values(review=review, reviewed_by=by, reviewed_at=now, review_note=note)
        )

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


@dataclass(frozen=True, slots=True)
class FindingFilter:
    """What a findings query asks for; None leaves a criterion out.

    ``windows`` (meter id → windows) keep those of ``meter_ids``' findings whose last
    reading lies in one of the meter's windows (a usage point's meters while installed
    there; a meter without windows keeps all); ``status`` is
    ``open`` (still found), ``cleared`` (no longer found by a later run) or None for both.
    """

    meter_ids: Sequence[int] | None = None
    windows: Mapping[int, Sequence[Window]] | None = None
    rules: Sequence[str] | None = None
    severities: Sequence[str] | None = None
    reviews: Sequence[str] | None = None
    status: str | None = None
    start: int | None = None
    end: int | None = None


_COLUMNS = tuple(
    TABLE.c[name]
    for name in (
        "id", "meter_id", "reading_type_id", "rule", "severity", "quality", "first_ts",
        "last_ts", "count", "description", "data", "found_at", "cleared_at", "review",
        "reviewed_by", "reviewed_at", "review_note",
    )
)  # fmt: skip


def _stored(row: Any) -> StoredFinding:
    return StoredFinding(*row[:10], json.loads(row[10]), *row[11:17])


def _conditions(where: FindingFilter, dialect: str) -> list[ColumnElement[bool]]:
    c = TABLE.c
    out: list[ColumnElement[bool]] = []
    if where.meter_ids is not None:
        out.append(member_of(c.meter_id, where.meter_ids, dialect))
    if where.meter_ids is not None and where.windows:
        out.append(within_windows(c.meter_id, c.last_ts, where.meter_ids, where.windows,
                                  dialect, interval=True))  # fmt: skip
    criteria = ((c.rule, where.rules), (c.severity, where.severities), (c.review, where.reviews))
    for column, values in criteria:
        if values is not None:
            out.append(member_of(column, values, dialect))
    if where.status == "open":
        out.append(c.cleared_at.is_(None))
    elif where.status == "cleared":
        out.append(c.cleared_at.is_not(None))
    if where.start is not None:
        out.append(c.last_ts > where.start)
    if where.end is not None:
        out.append(c.first_ts <= where.end)
    return out


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


def _array_of(column_type: Any) -> str:
    """The element type of a column's array: text for strings (a cast to varchar(n) would
    cut a long value short; the insert's own assignment refuses it instead)."""
    if isinstance(column_type, String):
        return "text"
    return str(column_type.compile(dialect=postgresql.dialect()))


#: the columns a new finding names (the others take their defaults)
INSERTED = (
    "tenant_id", "meter_id", "reading_type_id", "rule", "severity", "quality", "action",
    "first_ts", "last_ts", "count", "timestamps", "description", "data", "config_version",
    "found_at",
)  # fmt: skip
UNNEST_INSERT = text(
    f"INSERT INTO {TABLE.name} ({', '.join(INSERTED)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{k} AS {_array_of(TABLE.c[k].type)}[])" for k in INSERTED)
    + f") ON CONFLICT ({', '.join(NATURAL_KEY)}) DO NOTHING "
    f"RETURNING id, {', '.join(NATURAL_KEY)}"
)


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in NATURAL_KEY)
