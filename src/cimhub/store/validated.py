"""The validated layer: versions of every reading VEE or a user produced; raw stays apart.

A validated reading is keyed like a raw one (tenant, meter, reading type, ts) and carries
its ReadingQuality codes, the method (validated / estimated:<how> / edited), the rules
that fired or the user who edited, the reason, the VEE configuration version and when the
version was made. Replacing it first copies the current row to ``validated_reading_version``
with ``superseded_at``: every earlier version stays, so the layer can be read as it stood
at any moment ("what did billing see on the 5th?").
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import groupby, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    Double,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.domain.installation import Window
from cimhub.domain.reading import ReadingKind
from cimhub.store import staging
from cimhub.store.models import Base
from cimhub.store.readings import (
    Bounds,
    StoredSeries,
    by_kind,
    is_unique_violation,
    page_query,
)
from cimhub.store.sql import insert_ignore, member_of, series_arrays
from cimhub.store.vee_locks import holds
from cimhub.vee.precedence import LATE_READING, late_reading, measured_stands

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

EDITED = "edited"


class ValidatedColumns:
    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reading_type_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[float] = mapped_column(Double)
    quality: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(100))
    rule: Mapped[str] = mapped_column(Text)  #: rule ids that fired, comma-separated
    user_id: Mapped[str] = mapped_column(String(200))  #: "" for VEE, else who edited
    reason: Mapped[str] = mapped_column(Text)
    config_version: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger)


class ValidatedReading(ValidatedColumns, Base):
    __tablename__ = "validated_reading"
    __table_args__ = ({"sqlite_with_rowid": False},)


class ValidatedReadingVersion(ValidatedColumns, Base):
    __tablename__ = "validated_reading_version"
    __table_args__ = ({"sqlite_with_rowid": False},)

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    superseded_at: Mapped[int] = mapped_column(BigInteger)


CURRENT = cast(Table, ValidatedReading.__table__)
VERSIONS = cast(Table, ValidatedReadingVersion.__table__)
FIELDS = ("value", "quality", "method", "rule", "user_id", "reason", "config_version")


class Row(NamedTuple):
    """One validated value to store (what VEE or an edit produced)."""

    meter_id: int
    reading_type_id: int
    ts: int
    kind: str
    value: float
    quality: str
    method: str
    rule: str
    user_id: str
    reason: str
    config_version: str


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a validated reading, as the audit trail shows it."""

    version: int
    value: float
    quality: str
    method: str
    rule: str
    user_id: str
    reason: str
    created_at: int
    superseded_at: int | None


@dataclass(frozen=True, slots=True)
class ApplyCounts:
    inserted: int = 0
    changed: int = 0
    unchanged: int = 0
    kept_edits: int = 0  #: VEE left a user's edit alone
    kept_measured: int = 0  #: VEE's estimate of a gap left a measured value alone

    def __add__(self, other: ApplyCounts) -> ApplyCounts:
        return ApplyCounts(
            *(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__)
        )


Key = tuple[int, int, int]  # meter, reading type, ts


def _applied(uow: UnitOfWork) -> list[Row]:
    return cast(list[Row], uow.__dict__.setdefault("_validated_applied", []))


def _filed(uow: UnitOfWork) -> dict[int, list[Row]]:
    return cast(dict[int, list[Row]], uow.__dict__.setdefault("_validated_filed", {}))


def file_applied(uow: UnitOfWork, owners: Mapping[int, int]) -> None:
    """File the rows applied so far under the message that stored them (``owners``: meter
    id → message log id; in a group of messages VEE runs once for all of them)."""
    filed = _filed(uow)
    rest: list[Row] = []
    for meter_id, rows in groupby(_applied(uow), _METER):  # a series' rows run together
        owner = owners.get(meter_id)
        (rest if owner is None else filed.setdefault(owner, [])).extend(rows)
    uow.__dict__["_validated_applied"] = rest


def take_applied(uow: UnitOfWork, message_log_id: int | None = None) -> list[Row]:
    """The validated rows this transaction stored new or changed since the last call (and
    those filed under ``message_log_id``): what a message's announcement to subscribers
    carries (see ``cimhub.bus.outbox``)."""
    filed = _filed(uow).pop(message_log_id, []) if message_log_id is not None else []
    return filed + cast(list[Row], uow.__dict__.pop("_validated_applied", []))


CURRENT_COLUMNS = ("meter_id", "reading_type_id", "ts", "kind", "version", "created_at", *FIELDS)
#: The current rows of some series in [first, last] on PostgreSQL: one index range probe
#: per series (LATERAL; OFFSET 0 keeps the planner from flattening it into a join), whatever
#: the statistics say. With a young table's (none yet, or far behind), the planner chose one
#: scan of the tenant's whole key filtering the meters: 15 ms a batch of 64 meters at 100 k
#: rows, growing with the table (BENCHMARKS.md, round 6).
CURRENT_BY_SERIES = (
    f"SELECT v.* FROM unnest(CAST(:meters AS integer[]), CAST(:types AS integer[])) AS k(m, t) "
    f"CROSS JOIN LATERAL (SELECT {', '.join(CURRENT_COLUMNS)} FROM validated_reading "
    f"WHERE tenant_id = :tenant_id AND meter_id = k.m AND reading_type_id = k.t "
    f"AND ts BETWEEN :first AND :last OFFSET 0) AS v"
)
#: The last validated reading before each (meter, reading type, first ts), within a
#: lookback: on PostgreSQL a LATERAL probe per series (ORDER BY ts DESC LIMIT 1), on
#: SQLite max(ts) per series (its min/max optimisation probes the primary key; CROSS JOIN
#: keeps the series outermost: without statistics SQLite would scan the tenant's rows).
PREVIOUS = {
    "postgresql": (
        "SELECT k.m, k.t, v.ts, v.value FROM unnest(CAST(:meters AS integer[]), "
        "CAST(:types AS integer[]), CAST(:firsts AS bigint[])) AS k(m, t, f) "
        "CROSS JOIN LATERAL (SELECT ts, value FROM validated_reading "
        "WHERE tenant_id = :tenant_id AND meter_id = k.m AND reading_type_id = k.t "
        "AND ts < k.f AND ts >= k.f - :lookback ORDER BY ts DESC LIMIT 1) AS v"
    ),
    "sqlite": (
        "SELECT k.m, k.t, v.ts, v.value FROM (SELECT json_extract(value, '$[0]') AS m, "
        "json_extract(value, '$[1]') AS t, json_extract(value, '$[2]') AS f "
        "FROM json_each(:keys)) AS k CROSS JOIN validated_reading AS v "
        "ON v.tenant_id = :tenant_id AND v.meter_id = k.m AND v.reading_type_id = k.t "
        "AND v.ts = (SELECT max(w.ts) FROM validated_reading AS w "
        "WHERE w.tenant_id = :tenant_id AND w.meter_id = k.m AND w.reading_type_id = k.t "
        "AND w.ts < k.f AND w.ts >= k.f - :lookback)"
    ),
}


#: The new verdicts of the keys being replaced, COPYed in for two set-based statements
#: (COPY: ~1.4 µs a row; the same rows bound as ten arrays cost ~14 µs more).
CHANGES = "validated_changes"
CHANGE_COLUMNS = ("meter_id", "reading_type_id", "ts", *FIELDS)
CHANGE_TYPES = ["int4", "int4", "int8", "float8"] + ["text"] * (len(FIELDS) - 1)
CREATE_CHANGES = (
    f"CREATE TEMP TABLE {CHANGES} (meter_id integer, reading_type_id integer, ts bigint, "
    f"value double precision, {', '.join(f'{f} text' for f in FIELDS[1:])}) ON COMMIT DROP"
)
#: The keys are matched one by one and bounded by their meters, reading types and span:
#: whatever join the planner picks, it reads only that window of the layer.
_MATCH = (
    "v.meter_id = n.meter_id AND v.reading_type_id = n.reading_type_id AND v.ts = n.ts "
    "AND v.tenant_id = :tenant_id AND v.meter_id = ANY(CAST(:meters AS integer[])) "
    "AND v.reading_type_id = ANY(CAST(:types AS integer[])) AND v.ts BETWEEN :first AND :last"
)
#: The current rows of the keys, copied to the versions as superseded ``:now``.
SAVE_VERSIONS = text(
    f"INSERT INTO validated_reading_version (tenant_id, {', '.join(CURRENT_COLUMNS)}, "
    f"superseded_at) SELECT v.tenant_id, {', '.join(f'v.{c}' for c in CURRENT_COLUMNS)}, :now "
    f"FROM {CHANGES} AS n JOIN validated_reading AS v ON {_MATCH}"
)
#: Those current rows made the next version.
REPLACE_CURRENT = text(
    "UPDATE validated_reading AS v SET "
    + ", ".join(f"{f} = n.{f}" for f in FIELDS)
    + f", version = v.version + 1, created_at = :now FROM {CHANGES} AS n WHERE {_MATCH}"
)


def _window(rows: Sequence[Row]) -> dict[str, Any]:
    """The meters, reading types and span ``rows`` lie in."""
    stamps = list(map(_TS, rows))
    return {
        "meters": sorted(set(map(_METER, rows))),
        "types": sorted({r.reading_type_id for r in rows}),
        "first": min(stamps),
        "last": max(stamps),
    }


class ValidatedRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def current(self, tenant_id: int, rows: Sequence[Row]) -> dict[Key, dict[str, Any]]:
        """The current versions of the keys of ``rows`` (one range query)."""
        if not rows:
            return {}
        t = CURRENT
        columns = CURRENT_COLUMNS
        stamps = list(map(_TS, rows))  # column-wise: no Python call per row
        first, last = min(stamps), max(stamps)
        wanted = set(map(_SERIES, rows))
        stmt: Any
        if self._uow.dialect == "postgresql":
            stmt = text(CURRENT_BY_SERIES).bindparams(
                **series_arrays(sorted(wanted)), tenant_id=tenant_id, first=first, last=last
            )
        else:
            stmt = select(*(t.c[c] for c in columns)).where(
                t.c.tenant_id == tenant_id,
                member_of(t.c.meter_id, set(map(_METER, rows)), self._uow.dialect),
                t.c.ts.between(first, last),
            )
        out: dict[Key, dict[str, Any]] = {}
        for row in self._uow.session.execute(stmt):
            if (row[0], row[1]) in wanted:
                out[(row[0], row[1], row[2])] = dict(zip(columns, row, strict=True))
        return out

    def apply(
        self,
        tenant_id: int,
        rows: Sequence[Row],
        *,
        now: int,
        keep_edits: bool = True,
        meanwhile: Callable[[], object] | None = None,
    ) -> ApplyCounts:
        """Store rows as new versions where they differ from the current ones.

        ``keep_edits``: VEE never replaces a user's edit (an edit replaces anything).
        VEE's estimate of a gap never replaces a measured value; a measured value
        replaces the estimate of its gap, reason "late reading" (``vee.precedence``).
        Keys a concurrent writer stored first are judged against its rows, not dropped.
        ``meanwhile``: work that sends no statement, called once: while the server
        stores the new rows when no savepoint guards them (this transaction holds their
        meters' locks), after they are stored otherwise.
        """
        counts, lost = self._apply(tenant_id, rows, now, keep_edits, meanwhile)
        if lost:  # they exist now (committed: the insert waited for their writer)
            counts += self._apply(tenant_id, lost, now, keep_edits, None)[0]
        return counts

    def _apply(
        self,
        tenant_id: int,
        rows: Sequence[Row],
        now: int,
        keep_edits: bool,
        meanwhile: Callable[[], object] | None,
    ) -> tuple[ApplyCounts, list[Row]]:
        """``apply`` once: its counts, and the new rows a concurrent writer stored first."""
        current = self.current(tenant_id, rows)
        new: list[Row] = [] if current else list(rows)  # nothing stored yet: all new
        changed: list[tuple[dict[str, Any], Row]] = []
        unchanged = kept = kept_measured = 0
        for row in rows if current else ():
            old = current.get(row[:3])
            if old is None:
                new.append(row)
            elif keep_edits and old["method"] == EDITED:
                kept += 1
            elif _same(old, row):
                unchanged += 1
            elif measured_stands(old["quality"], old["user_id"], row.quality, row.user_id):
                kept_measured += 1
            elif late_reading(old["quality"], old["user_id"], row.quality, row.user_id):
                changed.append((old, row._replace(reason=LATE_READING)))
            else:
                changed.append((old, row))
        lost: list[Row] = []
        if new:
            new, lost = self._insert(tenant_id, new, now, meanwhile)
        elif meanwhile is not None:
            meanwhile()
        _applied(self._uow).extend([*new, *(row for _, row in changed)])
        if changed:
            self._replace(tenant_id, changed, now)
        return ApplyCounts(len(new), len(changed), unchanged, kept, kept_measured), lost

    def _replace(
        self, tenant_id: int, changed: Sequence[tuple[dict[str, Any], Row]], now: int
    ) -> None:
        """Make each row the current version of its key, the replaced one kept as a version.

        PostgreSQL: the new verdicts COPYed into a temporary table, then two set-based
        statements whatever the count (the versions copied from the current rows
        server-side, one UPDATE): a late day of 1 000 meters took 3.0–4.1 s end to end
        here, row by row 10.5–11.4 s. The per-meter VEE locks (``vee_locks``) keep the
        current rows as ``current()`` read them.
        """
        session = self._uow.session
        if self._uow.dialect == "postgresql":
            rows = [row for _, row in changed]
            connection = session.connection()
            connection.exec_driver_sql(CREATE_CHANGES)
            with connection.connection.driver_connection.cursor() as cursor:
                columns = ", ".join(CHANGE_COLUMNS)
                with cursor.copy(f"COPY {CHANGES} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(CHANGE_TYPES)
                    for row in rows:
                        copy.write_row(row[:3] + row[4:])  # all but kind
            params = {"tenant_id": tenant_id, "now": now, **_window(rows)}
            session.execute(SAVE_VERSIONS, params)
            session.execute(REPLACE_CURRENT, params)
            connection.exec_driver_sql(f"DROP TABLE {CHANGES}")
            return
        session.execute(
            insert(VERSIONS),
            [
                {
                    **old,
                    "tenant_id": tenant_id,
                    "meter_id": row.meter_id,
                    "reading_type_id": row.reading_type_id,
                    "ts": row.ts,
                    "superseded_at": now,
                }
                for old, row in changed
            ],
        )
        t = CURRENT
        session.execute(
            update(t)
            .where(
                t.c.tenant_id == bindparam("k_tenant"),
                t.c.meter_id == bindparam("k_meter"),
                t.c.reading_type_id == bindparam("k_type"),
                t.c.ts == bindparam("k_ts"),
            )
            .values({f: bindparam(f) for f in (*FIELDS, "version", "created_at")}),
            [
                {
                    "k_tenant": tenant_id,
                    "k_meter": row.meter_id,
                    "k_type": row.reading_type_id,
                    "k_ts": row.ts,
                    **{f: getattr(row, f) for f in FIELDS},
                    "version": old["version"] + 1,
                    "created_at": now,
                }
                for old, row in changed
            ],
        )

    def _insert(
        self, tenant_id: int, rows: list[Row], now: int, meanwhile: Callable[[], object] | None
    ) -> tuple[list[Row], list[Row]]:
        """New keys in bulk: COPY on PostgreSQL, the driver's executemany on SQLite. If a
        concurrent writer stored one of the keys first, fall back to insert-or-ignore.
        The rows this transaction stored, and those the concurrent writer's keys kept out;
        ``meanwhile`` called once (see ``apply``)."""
        session = self._uow.session
        values = map(tuple.__add__, rows, repeat((tenant_id, 1, now)))
        if holds(self._uow, {r.meter_id for r in rows}):  # no concurrent writer: no savepoint
            _bulk(session.connection(), values, meanwhile)
            return rows, []
        try:
            with session.begin_nested():
                _bulk(session.connection(), values)
            if meanwhile is not None:
                meanwhile()
            return rows, []
        except Exception as error:
            if not is_unique_violation(error):
                raise
            c = CURRENT.c
            stmt = insert_ignore(
                CURRENT, self._uow.dialect, "tenant_id", "meter_id", "reading_type_id", "ts"
            ).returning(c.meter_id, c.reading_type_id, c.ts)
            stored = session.execute(stmt, [_values(tenant_id, r, 1, now) for r in rows])
            keys = {tuple(k) for k in stored}
            if meanwhile is not None:
                meanwhile()
            mine = [r for r in rows if (r.meter_id, r.reading_type_id, r.ts) in keys]
            return mine, [r for r in rows if (r.meter_id, r.reading_type_id, r.ts) not in keys]

    def query(
        self,
        tenant_id: int,
        kind: ReadingKind,
        *,
        meter_ids: Sequence[int],
        reading_type_ids: Sequence[int] | None,
        start: int | None,
        end: int | None,
        after: tuple[int, int, int] | None,
        limit: int,
        windows: Mapping[int, Sequence[Window]] | None = None,
        as_of: int | None = None,
    ) -> list[StoredSeries]:
        """Like ``ReadingRepository.query``, over the validated layer (as it stood at
        ``as_of`` when given)."""
        found = self.query_kinds(
            tenant_id,
            (kind,),
            meter_ids=meter_ids,
            reading_type_ids=reading_type_ids,
            start=start,
            end=end,
            after=after,
            limit=limit,
            windows=windows,
            as_of=as_of,
        )
        return found[kind]

    def query_kinds(
        self,
        tenant_id: int,
        kinds: Sequence[ReadingKind],
        *,
        meter_ids: Sequence[int],
        reading_type_ids: Sequence[int] | None,
        start: int | None,
        end: int | None,
        after: tuple[int, int, int] | None,
        limit: int,
        windows: Mapping[int, Sequence[Window]] | None = None,
        as_of: int | None = None,
    ) -> dict[ReadingKind, list[StoredSeries]]:
        """Like ``ReadingRepository.query_kinds``, over the validated layer (as it stood
        at ``as_of`` when given)."""
        found: dict[ReadingKind, list[StoredSeries]] = {kind: [] for kind in kinds}
        if not meter_ids or limit <= 0 or (reading_type_ids is not None and not reading_type_ids):
            return found
        layer = CURRENT if as_of is None else _layer_as_of()
        stmt, params = page_query(
            tuple((layer, kind) for kind in kinds),
            Bounds(meter_ids, reading_type_ids, start, end, windows),
            after,
            limit,
            tenant_id,
            self._uow.dialect,
            kind_column=True,
        )
        if as_of is not None:
            params["as_of"] = as_of
        return found | by_kind(self._uow.session.execute(stmt, params), kinds)

    def versions(
        self, tenant_id: int, meter_id: int, reading_type_id: int, ts: int
    ) -> list[Version]:
        """Every version of one validated reading, oldest first: the audit trail."""
        out = []
        for table in (VERSIONS, CURRENT):
            c = table.c
            superseded = c.superseded_at if table is VERSIONS else None
            stmt = select(
                c.version, *(c[f] for f in FIELDS if f != "config_version"), c.created_at
            ).where(
                c.tenant_id == tenant_id,
                c.meter_id == meter_id,
                c.reading_type_id == reading_type_id,
                c.ts == ts,
            )
            if superseded is not None:
                stmt = stmt.add_columns(superseded)
            for row in self._uow.session.execute(stmt):
                out.append(Version(*row) if superseded is not None else Version(*row, None))
        return sorted(out, key=lambda v: v.version)

    def previous(
        self, tenant_id: int, firsts: dict[tuple[int, int], int], lookback: int
    ) -> dict[tuple[int, int], tuple[int, float]]:
        """The last validated (ts, value) before each series' first ts, within ``lookback``:
        one query for every series, one index probe each (never a scan of the window)."""
        if not firsts:
            return {}
        keys = list(firsts.items())
        if self._uow.dialect == "postgresql":
            params: dict[str, Any] = series_arrays([k for k, _ in keys])
            params["firsts"] = [f for _, f in keys]
        else:
            params = {"keys": json.dumps([[m, t, f] for (m, t), f in keys])}
        params |= {"tenant_id": tenant_id, "lookback": lookback}
        rows = self._uow.session.execute(text(PREVIOUS[self._uow.dialect]), params)
        return {(m, t): (ts, value) for m, t, ts, value in rows}

    def intervals(
        self, tenant_id: int, keys: Iterable[tuple[int, int]], start: int, end: int
    ) -> dict[tuple[int, int], list[tuple[int, float, str]]]:
        """Validated (ts, value, quality) of some series over (start, end], for like days."""
        wanted = set(keys)
        if not wanted:
            return {}
        t = CURRENT
        stmt = (
            select(t.c.meter_id, t.c.reading_type_id, t.c.ts, t.c.value, t.c.quality)
            .where(
                t.c.tenant_id == tenant_id,
                member_of(t.c.meter_id, {m for m, _ in wanted}, self._uow.dialect),
                t.c.ts > start,
                t.c.ts <= end,
            )
            .order_by(t.c.meter_id, t.c.reading_type_id, t.c.ts)
        )
        out: dict[tuple[int, int], list[tuple[int, float, str]]] = defaultdict(list)
        for m, rt, ts, value, q in self._uow.session.execute(stmt):
            if (m, rt) in wanted:
                out[(m, rt)].append((ts, value, q))
        return out


def _same(old: Mapping[str, Any], row: Row) -> bool:
    """Whether VEE's verdict is what stands (a late reading's version keeps its reason
    when a re-run finds the same again)."""
    if old["reason"] not in (row.reason, LATE_READING):
        return False
    return all(old[f] == getattr(row, f) for f in FIELDS if f != "reason")


def _values(tenant_id: int, row: Row, version: int, now: int) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "meter_id": row.meter_id,
        "reading_type_id": row.reading_type_id,
        "ts": row.ts,
        "kind": row.kind,
        **{f: getattr(row, f) for f in FIELDS},
        "version": version,
        "created_at": now,
    }


#: a Row's fields, then (tenant_id, version, created_at): a COPY row is the Row's tuple
#: with those three appended, built without a Python call per row
INSERT_COLUMNS = (*Row._fields, "tenant_id", "version", "created_at")
COPY_TYPES = ["int4", "int4", "int8", "text", "float8"] + ["text"] * 6 + ["int4", "int4", "int8"]
_METER, _TS = itemgetter(0), itemgetter(2)
_SERIES = itemgetter(0, 1)


def _bulk(
    connection: Any,
    rows: Iterable[tuple[Any, ...]],
    meanwhile: Callable[[], object] | None = None,
) -> None:
    columns = ", ".join(INSERT_COLUMNS)
    staging.write(connection, CURRENT.name, columns, COPY_TYPES, rows, meanwhile)


@cache
def _layer_as_of() -> Any:
    """The layer as it stood at the moment bound as ``as_of``: current rows made by then,
    plus the versions that were in force then (one object, so its page statements are
    built once, as the current layer's are)."""
    moment = bindparam("as_of", type_=CURRENT.c.created_at.type)
    cols = ("tenant_id", "meter_id", "reading_type_id", "ts", "kind", "value", "quality", "version")
    now_rows = select(*(CURRENT.c[c] for c in cols)).where(CURRENT.c.created_at <= moment)
    old_rows = select(*(VERSIONS.c[c] for c in cols)).where(
        VERSIONS.c.created_at <= moment, VERSIONS.c.superseded_at > moment
    )
    return union_all(now_rows, old_rows).subquery("as_of")
