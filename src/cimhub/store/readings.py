"""Interval and register readings: versioned bulk save, keyset-paged range queries.

A reading is keyed by (tenant, meter, reading type, ts), ts being the interval END in UTC
epoch seconds. Saving never overwrites silently and never duplicates: a new key is
inserted as version 1, an identical re-send changes nothing, and a changed value or
quality first moves the current row to the ``*_version`` table, then becomes version n+1.

Fast path: when none of the batch's meters has a stored reading of the batch's types in
its time range (new data, the common case), the rows go straight into the table with one bulk
write, in a savepoint; a key that appeared meanwhile (a concurrent writer) rolls the
savepoint back and the batch takes the general path: staged, then merged set-wise.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    union_all,
)

from cimhub.domain.installation import Window
from cimhub.domain.reading import ReadingKind, SaveCounts, Series
from cimhub.errors import InvalidValueError
from cimhub.store import partitions, staging
from cimhub.store.models import (
    IntervalReading,
    IntervalReadingVersion,
    RegisterReading,
    RegisterReadingVersion,
)
from cimhub.store.sql import (
    any_reading_type,
    member_of,
    member_of_param,
    member_values,
    series_arrays,
    within_windows,
)
from cimhub.store.vee_locks import holds

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: Ingest's "anything stored here already?" on PostgreSQL: one index probe per series
#: (LATERAL … LIMIT 1), whatever the statistics say — a young partition has none, and the
#: planner then scanned the tenant's whole day filtering the meters (23 ms a batch of 64
#: one-meter messages at 1 000 meters, growing with the meters; BENCHMARKS.md, round 6).
STORED_ANY = (
    "SELECT EXISTS (SELECT FROM unnest(CAST(:meters AS integer[]), CAST(:types AS integer[])) "
    "AS k(m, t) CROSS JOIN LATERAL (SELECT FROM {table} WHERE tenant_id = :tenant_id "
    "AND meter_id = k.m AND reading_type_id = k.t AND ts BETWEEN :first AND :last LIMIT 1) AS r)"
)
TABLES: dict[ReadingKind, tuple[Table, Table]] = {
    ReadingKind.INTERVAL: (
        cast(Table, IntervalReading.__table__),
        cast(Table, IntervalReadingVersion.__table__),
    ),
    ReadingKind.REGISTER: (
        cast(Table, RegisterReading.__table__),
        cast(Table, RegisterReadingVersion.__table__),
    ),
}
COLUMNS = staging.READING_COLUMNS
# The ts bounds are constants of the batch: they let PostgreSQL prune partitions. On
# PostgreSQL the meter list keeps the join to the batch's meters whatever the planner
# guesses (with stale statistics it hashed every reading of the range, all meters, for
# each message). SQLite needs none: it probes the primary key once per staged row, and
# the list would lead it to scan the (unindexed) staging table once per stored row.
MATCH = (
    "r.tenant_id = :tenant_id AND r.meter_id = s.meter_id "
    "AND r.reading_type_id = s.reading_type_id AND r.ts = s.ts "
    "AND r.ts BETWEEN :first AND :last AND {meters} "
    "AND (r.value <> s.value OR r.quality <> s.quality)"
)
METERS = {
    "postgresql": "r.meter_id = ANY(CAST(:meter_ids AS integer[]))",
    "sqlite": "true",
}
#: SQLSTATE of a unique violation (PostgreSQL); SQLite's IntegrityError says UNIQUE.
UNIQUE_VIOLATION = "23505"
ARCHIVE = (
    f"INSERT INTO {{version}} ({COLUMNS}, superseded_at) "
    f"SELECT r.tenant_id, r.meter_id, r.reading_type_id, r.ts, r.value, r.quality, "
    f"r.version, r.source, r.message_log_id, r.received_at, :received_at "
    f"FROM {{current}} AS r JOIN {staging.TABLE} AS s ON {MATCH}"
)
# Both return the message log id of each row they wrote: a batch may hold several
# messages, and each message's reply counts its own readings.
UPDATE = (
    f"UPDATE {{current}} AS r SET value = s.value, quality = s.quality, "
    f"version = r.version + 1, source = s.source, message_log_id = s.message_log_id, "
    f"received_at = :received_at FROM {staging.TABLE} AS s WHERE {MATCH} "
    f"RETURNING {{returned}}"
)
# CASTs type the constants for PostgreSQL (a NULL would otherwise be text); SQLite
# needs the WHERE true to parse INSERT … SELECT … ON CONFLICT.
INSERT = (
    f"INSERT INTO {{current}} ({COLUMNS}) "
    f"SELECT CAST(:tenant_id AS INTEGER), s.meter_id, s.reading_type_id, s.ts, s.value, "
    f"s.quality, 1, s.source, s.message_log_id, "
    f"CAST(:received_at AS BIGINT) FROM {staging.TABLE} AS s WHERE true "
    f"ON CONFLICT (tenant_id, meter_id, reading_type_id, ts) DO NOTHING "
    f"RETURNING message_log_id"
)
#: UPDATE … FROM's RETURNING: PostgreSQL needs the alias (s has the column too), SQLite
#: refuses it and takes the bare name as the updated table's.
RETURNED = {"postgresql": "r.message_log_id", "sqlite": "message_log_id"}

#: The last ``:count`` interval stamps of each series before its ``b`` (within ``:window``
#: seconds): one index probe per series, in one statement (a drifting clock's chain).
LAST_STAMPS = {
    "postgresql": (
        "SELECT k.m, k.t, r.ts FROM unnest(CAST(:meters AS integer[]), "
        "CAST(:types AS integer[]), CAST(:befores AS bigint[])) AS k(m, t, b) "
        "CROSS JOIN LATERAL (SELECT ts FROM interval_reading "
        "WHERE tenant_id = :tenant_id AND meter_id = k.m AND reading_type_id = k.t "
        "AND ts < k.b AND ts >= k.b - :window ORDER BY ts DESC LIMIT :count) AS r"
    ),
    "sqlite": (
        "SELECT k.m, k.t, r.ts FROM (SELECT json_extract(value, '$[0]') AS m, "
        "json_extract(value, '$[1]') AS t, json_extract(value, '$[2]') AS b "
        "FROM json_each(:keys)) AS k CROSS JOIN interval_reading AS r "
        "ON r.tenant_id = :tenant_id AND r.meter_id = k.m AND r.reading_type_id = k.t "
        "AND r.ts IN (SELECT w.ts FROM interval_reading AS w WHERE w.tenant_id = :tenant_id "
        "AND w.meter_id = k.m AND w.reading_type_id = k.t AND w.ts < k.b "
        "AND w.ts >= k.b - :window ORDER BY w.ts DESC LIMIT :count)"
    ),
}


@dataclass(slots=True)
class StoredSeries:
    """Stored readings of one meter and reading type, in parallel columns."""

    meter_id: int
    reading_type_id: int
    timestamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    qualities: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)


class ReadingRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def save(
        self,
        tenant_id: int,
        kind: ReadingKind,
        items: Sequence[tuple[int, int, Series]],
        *,
        source: str,
        message_log_id: int | None,
        received_at: int,
    ) -> SaveCounts:
        """Store (meter_id, reading_type_id, series) items of one message; see the module
        docstring. A key must appear at most once per batch (the mapping rejects such
        duplicates)."""
        origins = [(source, message_log_id)] * len(items)
        counts = self.save_from(tenant_id, kind, items, origins, received_at=received_at)
        return sum(counts.values(), SaveCounts())

    def save_from(
        self,
        tenant_id: int,
        kind: ReadingKind,
        items: Sequence[tuple[int, int, Series]],
        origins: Sequence[staging.Origin],
        *,
        received_at: int,
        meanwhile: Callable[[], object] | None = None,
    ) -> dict[int | None, SaveCounts]:
        """Like ``save``, for items of several messages (``origins``: each item's source
        and message log id, the rows carry them); what was stored per message log id.

        ``meanwhile``: work that sends no statement, called once: while the server stores
        the rows when they are all new and no savepoint guards them (``staging.insert``),
        after they are stored otherwise."""
        kept = [(item, origin) for item, origin in zip(items, origins, strict=True) if len(item[2])]
        if not kept:
            _call(meanwhile)
            return {}
        items, origins = [item for item, _ in kept], [origin for _, origin in kept]
        first, last, totals = _extent(items, origins)
        dialect = self._uow.dialect
        if kind is ReadingKind.INTERVAL and dialect == "postgresql":
            partitions.ensure_months(self._uow, first, last)
        meter_ids = sorted({meter_id for meter_id, _, _ in items})
        connection = self._uow.session.connection()
        series = sorted({(meter_id, type_id) for meter_id, type_id, _ in items})
        if not self._stored_any(connection, kind, tenant_id, series, first, last):
            batch = staging.reading_rows(items, origins, tenant_id, received_at)
            race = self._race(kind, meter_ids)
            if self._insert_new(TABLES[kind][0].name, batch, race=race, meanwhile=meanwhile):
                return {log_id: SaveCounts(inserted=n) for log_id, n in totals.items()}
        params = {
            "tenant_id": tenant_id,
            "received_at": received_at,
            "first": first,
            "last": last,
            "meter_ids": meter_ids,
        }
        counts = _merge(connection, kind, (items, origins), params, totals)
        _call(meanwhile)
        return counts

    def _stored_any(
        self,
        connection: Connection,
        kind: ReadingKind,
        tenant_id: int,
        series: list[tuple[int, int]],
        first: int,
        last: int,
    ) -> bool:
        """Whether any of these (meter, reading type) series has a reading in [first, last]."""
        t, _ = TABLES[kind]
        if self._uow.dialect == "postgresql":
            stored = text(STORED_ANY.format(table=t.name)).bindparams(
                **series_arrays(series), tenant_id=tenant_id, first=first, last=last
            )
            return bool(connection.execute(stored).scalar())
        dialect = self._uow.dialect
        probe = exists().where(
            t.c.tenant_id == tenant_id,
            member_of(t.c.meter_id, {m for m, _ in series}, dialect),
            member_of(t.c.reading_type_id, {rt for _, rt in series}, dialect),
            t.c.ts.between(first, last),
        )
        return bool(connection.execute(select(probe)).scalar())

    def _race(self, kind: ReadingKind, meter_ids: Sequence[int]) -> bool:
        """Whether another transaction may store one of these keys meanwhile: not if it
        is an interval reading (ingest alone writes those, holding the meters' VEE locks
        while VEE is on) and this transaction holds every meter's lock."""
        return kind is not ReadingKind.INTERVAL or not holds(self._uow, meter_ids)

    def _insert_new(
        self, table: str, batch: Any, *, race: bool, meanwhile: Callable[[], object] | None
    ) -> bool:
        """Write new rows straight in; False (nothing written, ``meanwhile`` not called)
        if a key was taken. Only a concurrent writer can take one since ``_stored_any``
        looked: without ``race`` (this transaction holds the meters' locks,
        ``vee_locks``) no savepoint guards it, and ``meanwhile`` runs during the write."""
        if not race:
            staging.insert(self._uow.session.connection(), table, batch, meanwhile)
            return True
        try:
            with self._uow.session.begin_nested():
                # Asking the session for its connection inside the nested transaction is
                # what emits the SAVEPOINT (begin_nested alone is lazy).
                staging.insert(self._uow.session.connection(), table, batch)
        except Exception as error:
            if not is_unique_violation(error):
                raise
            return False
        _call(meanwhile)
        return True

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
    ) -> list[StoredSeries]:
        """Readings with start < ts <= end (None: open), ordered by (meter, type, ts),
        at most ``limit`` of them, strictly after the keyset ``after``; a meter named in
        ``windows`` only inside its windows (its stays at a usage point)."""
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
    ) -> dict[ReadingKind, list[StoredSeries]]:
        """``query`` over several kinds in one statement: the first ``limit`` readings of
        the kinds taken in this order (``after`` applies to the first kind)."""
        found: dict[ReadingKind, list[StoredSeries]] = {kind: [] for kind in kinds}
        if not meter_ids or limit <= 0 or (reading_type_ids is not None and not reading_type_ids):
            return found
        stmt, params = page_query(
            tuple((TABLES[kind][0], kind) for kind in kinds),
            Bounds(meter_ids, reading_type_ids, start, end, windows),
            after,
            limit,
            tenant_id,
            self._uow.dialect,
            kind_column=False,
        )
        return found | by_kind(self._uow.session.execute(stmt, params), kinds)

    def versions(
        self, tenant_id: int, kind: ReadingKind, meter_id: int, reading_type_id: int, ts: int
    ) -> list[tuple[int, float, str, str, int]]:
        """(version, value, quality, source, received_at) of one reading, oldest first."""
        history: list[tuple[int, float, str, str, int]] = []
        for table in TABLES[kind]:
            history += self._uow.session.execute(
                select(
                    table.c.version,
                    table.c.value,
                    table.c.quality,
                    table.c.source,
                    table.c.received_at,
                ).where(
                    table.c.tenant_id == tenant_id,
                    table.c.meter_id == meter_id,
                    table.c.reading_type_id == reading_type_id,
                    table.c.ts == ts,
                )
            ).all()
        return sorted(history)

    def latest(self, tenant_id: int, meter_ids: Sequence[int], since: int) -> dict[int, int]:
        """Each meter's newest reading (interval or register) stamped after ``since``;
        meters with none are left out. Bounded in time, so PostgreSQL reads the recent
        partitions only."""
        newest: dict[int, int] = {}
        if not meter_ids:
            return newest
        for t, _ in TABLES.values():
            rows = self._uow.session.execute(
                select(t.c.meter_id, func.max(t.c.ts))
                .where(
                    t.c.tenant_id == tenant_id,
                    member_of(t.c.meter_id, meter_ids, self._uow.dialect),
                    t.c.ts > since,
                )
                .group_by(t.c.meter_id)
            )
            for meter_id, ts in rows:
                newest[meter_id] = max(ts, newest.get(meter_id, ts))
        return newest

    def last_stamps(
        self, tenant_id: int, befores: Mapping[tuple[int, int], int], count: int, window: int
    ) -> dict[tuple[int, int], list[int]]:
        """The stamps of each interval series' last ``count`` raw readings before its
        ``befores`` ts (at most ``window`` seconds before), oldest first: the meter's own
        clock, as it sent them."""
        if not befores or count <= 0:
            return {}
        keys = list(befores.items())
        params: dict[str, Any] = {"tenant_id": tenant_id, "count": count, "window": window}
        if self._uow.dialect == "postgresql":
            params |= {
                "meters": [m for (m, _), _ in keys],
                "types": [t for (_, t), _ in keys],
                "befores": [b for _, b in keys],
            }
        else:
            params["keys"] = json.dumps([[m, t, b] for (m, t), b in keys])
        out: dict[tuple[int, int], list[int]] = {}
        for m, t, ts in self._uow.session.execute(text(LAST_STAMPS[self._uow.dialect]), params):
            out.setdefault((m, t), []).append(ts)
        return {key: sorted(stamps) for key, stamps in out.items()}

    def count(self, tenant_id: int, kind: ReadingKind) -> int:
        """How many current readings of this kind the tenant has."""
        t, _ = TABLES[kind]
        stmt = select(func.count()).select_from(t).where(t.c.tenant_id == tenant_id)
        return self._uow.session.execute(stmt).scalar_one()


def _merge(
    connection: Connection,
    kind: ReadingKind,
    batch: tuple[Sequence[tuple[int, int, Series]], Sequence[staging.Origin]],
    params: dict[str, Any],
    totals: Counter[int | None],
) -> dict[int | None, SaveCounts]:
    """The general path: stage the batch, insert its new keys, version the changed ones."""
    archive, update, insert = _statements(kind, connection.dialect.name)
    staging.load(connection, *batch)
    # New keys first: ON CONFLICT skips the stored ones, and the rows it inserts equal
    # their staged values, so archive and update (needed only when some key was stored)
    # see exactly the changed rows — archive first, while they still hold the old values.
    inserted = _returned(connection, insert, params)
    changed: Counter[int | None] = Counter()
    if inserted.total() < totals.total():
        connection.execute(text(archive), params)
        changed = _returned(connection, update, params)
    # Not in a finally: after an error the transaction rolls back, staged rows too.
    staging.clear(connection)
    return {
        log_id: SaveCounts(
            inserted=inserted[log_id],
            unchanged=total - inserted[log_id] - changed[log_id],
            changed=changed[log_id],
        )
        for log_id, total in totals.items()
    }


def _call(work: Callable[[], object] | None) -> None:
    if work is not None:
        work()


def is_unique_violation(error: BaseException) -> bool:
    cause = getattr(error, "orig", None) or error
    if getattr(cause, "sqlstate", None) == UNIQUE_VIOLATION:
        return True
    return isinstance(cause, sqlite3.IntegrityError) and "UNIQUE" in str(cause)


def _extent(
    items: Sequence[tuple[int, int, Series]], origins: Sequence[staging.Origin]
) -> tuple[int, int, Counter[int | None]]:
    """(min ts, max ts, readings per message log id) of a non-empty batch; checks
    column lengths."""
    totals: Counter[int | None] = Counter()
    for (_, _, series), (_, log_id) in zip(items, origins, strict=True):
        if not len(series.timestamps) == len(series.values) == len(series.qualities):
            raise InvalidValueError(f"series of {series.meter.key} has ragged columns")
        totals[log_id] += len(series)
    first = min(min(series.timestamps) for _, _, series in items)
    last = max(max(series.timestamps) for _, _, series in items)
    return first, last, totals


@cache
def _statements(kind: ReadingKind, dialect: str) -> tuple[str, str, str]:
    """The archive, update and insert statements of one reading kind on one dialect."""
    current, version = (table.name for table in TABLES[kind])
    # On PostgreSQL, lock the changed rows as they are archived: a concurrent re-send of
    # the same keys then waits and re-checks instead of archiving the same version twice.
    lock = " FOR UPDATE OF r" if dialect == "postgresql" else ""
    meters = METERS[dialect]
    return (
        ARCHIVE.format(current=current, version=version, meters=meters) + lock,
        UPDATE.format(current=current, meters=meters, returned=RETURNED[dialect]),
        INSERT.format(current=current),
    )


def _returned(connection: Connection, sql: str, params: dict[str, Any]) -> Counter[int | None]:
    """Run one set-based statement; how many rows it wrote per message log id."""
    return Counter(connection.execute(text(sql), params).scalars())


@dataclass(frozen=True, slots=True)
class Bounds:
    """What a reading query asks for (see ``ReadingRepository.query``)."""

    meter_ids: Sequence[int]
    reading_type_ids: Sequence[int] | None
    start: int | None
    end: int | None
    windows: Mapping[int, Sequence[Window]] | None


Source = tuple[Any, ReadingKind]  # a readings table (or the validated layer), the kind read


def page_query(
    sources: Sequence[Source],
    bounds: Bounds,
    after: tuple[int, int, int] | None,
    limit: int,
    tenant_id: int,
    dialect: str,
    *,
    kind_column: bool,
) -> tuple[Select[Any], dict[str, Any]]:
    """One page of readings over ``sources`` taken in order, and its parameters: rows
    (meter, type, ts, value, quality, version, part), ``after`` applying to the first
    source; with ``kind_column`` each source holds every kind and is filtered by it.

    The statement is built once per shape and reused: building and keying a new one cost
    ~2 ms of a meter-month query. Windows (meters asked for by usage point) embed their
    own bounds: those statements are built anew."""
    shape = (
        tuple(sources),
        kind_column,
        bounds.reading_type_ids is not None,
        bounds.start is not None,
        bounds.end is not None,
        after is not None,
        dialect,
    )
    if bounds.windows:
        stmt = _page_select(*shape, windows=(bounds.meter_ids, bounds.windows))
    else:
        stmt = _page_statement(*shape)
    params: dict[str, Any] = {
        "tenant": tenant_id,
        "meters": member_values(bounds.meter_ids, dialect),
        "page": limit,
    }
    if bounds.reading_type_ids is not None:
        params["types"] = member_values(bounds.reading_type_ids, dialect)
    if bounds.start is not None:
        params["start"] = bounds.start
    if bounds.end is not None:
        params["end"] = bounds.end
    if after is not None:
        params["after_meter"], params["after_type"], params["after_ts"] = after
    return stmt, params


def _page_select(
    sources: tuple[Source, ...],
    kind_column: bool,
    typed: bool,
    started: bool,
    ended: bool,
    resumed: bool,
    dialect: str,
    windows: tuple[Sequence[int], Mapping[int, Sequence[Window]]] | None = None,
) -> Select[Any]:
    if kind_column and not resumed and len({table for table, _ in sources}) == 1:
        return _paged([_one_scan(sources, typed, started, ended, dialect, windows)])
    parts = []
    for part, (table, kind) in enumerate(sources):
        c = table.c
        stmt = select(*_page_columns(c), literal(part).label("part")).where(
            *_common_bounds(c, typed, started, ended, dialect),
            *_part_bounds(c, kind, part == 0 and resumed, dialect, windows),
        )
        if kind_column:
            stmt = stmt.where(c.kind == kind.value)
        parts.append(stmt)
    return _paged(parts)


def _one_scan(
    sources: tuple[Source, ...],
    typed: bool,
    started: bool,
    ended: bool,
    dialect: str,
    windows: tuple[Sequence[int], Mapping[int, Sequence[Window]]] | None,
) -> Select[Any]:
    """Every kind asked for from one table holding them all (the validated layer), read
    in one scan, each row's part told by its kind: a scan per kind read the same series'
    rows again only to filter them out (~1 ms of a meter-month query). A first page only:
    a page resuming after a key seeks it in the first kind's own scan, where an index can
    use it (here it would only filter, every page scanning from the start again)."""
    c = sources[0][0].c
    kinds = [kind for _, kind in sources]
    part = case({kind.value: n for n, kind in enumerate(kinds)}, value=c.kind)
    per_kind = [(kind, _part_bounds(c, kind, False, dialect, windows)) for kind in kinds]
    stmt = select(*_page_columns(c), part.label("part")).where(
        *_common_bounds(c, typed, started, ended, dialect),
        or_(*(c.kind == kind.value for kind in kinds)),  # not IN: that is re-rendered each time
    )
    if any(bounds for _, bounds in per_kind):
        stmt = stmt.where(or_(*(and_(c.kind == kind.value, *b) for kind, b in per_kind)))
    return stmt


def _page_columns(c: Any) -> tuple[Any, ...]:
    return c.meter_id, c.reading_type_id, c.ts, c.value, c.quality, c.version


def _common_bounds(c: Any, typed: bool, started: bool, ended: bool, dialect: str) -> list[Any]:
    """What every part of a page asks of its rows: tenant, meters, types, period."""
    bounds = [
        c.tenant_id == bindparam("tenant", type_=c.tenant_id.type),
        member_of_param(c.meter_id, "meters", dialect),
        member_of_param(c.reading_type_id, "types", dialect)
        if typed
        else any_reading_type(c.reading_type_id, dialect),
    ]
    if started:
        bounds.append(c.ts > bindparam("start", type_=c.ts.type))
    if ended:
        bounds.append(c.ts <= bindparam("end", type_=c.ts.type))
    return bounds


def _part_bounds(
    c: Any,
    kind: ReadingKind,
    resumed: bool,
    dialect: str,
    windows: tuple[Sequence[int], Mapping[int, Sequence[Window]]] | None,
) -> list[Any]:
    """What one kind's part asks besides: its usage points' windows, and where the page
    resumes (``after`` applies to the first part only)."""
    bounds = []
    if windows:
        meter_ids, spans = windows
        interval = kind is ReadingKind.INTERVAL
        bounds.append(
            within_windows(c.meter_id, c.ts, meter_ids, spans, dialect, interval=interval)
        )
    if resumed:
        key = (c.meter_id, c.reading_type_id, c.ts)
        last = (
            bindparam("after_meter", type_=c.meter_id.type),
            bindparam("after_type", type_=c.reading_type_id.type),
            bindparam("after_ts", type_=c.ts.type),
        )
        bounds.append(tuple_(*key) > tuple_(*last))
    return bounds


#: The page statements of the shapes seen (a handful: kinds asked, bounds given).
_page_statement = lru_cache(maxsize=128)(_page_select)


def _paged(parts: Sequence[Select[Any]]) -> Select[Any]:
    """The first ``page`` rows of ``parts`` (each (meter, type, ts, value, quality,
    version, part)) taken in order, each ordered by its key: one statement for a page
    that may run from one kind into the next."""
    rows = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("page")
    c = rows.c
    # The limit as a literal: psycopg prepares a statement run five times, and for a
    # LIMIT parameter PostgreSQL's generic plan merges the partitions' primary keys
    # in order, filtering the meters instead of seeking them — a scan of every reading
    # of the tenant in the range (10× slower at 280 k rows, and growing with the table).
    page: Any = bindparam("page", type_=Integer, literal_execute=True)
    return select(c).order_by(c.part, c.meter_id, c.reading_type_id, c.ts).limit(page)


def by_kind(rows: Any, kinds: Sequence[ReadingKind]) -> dict[ReadingKind, list[StoredSeries]]:
    """The rows of a ``paged`` statement as each part's (kind's) series."""
    return {kinds[part]: grouped(group) for part, group in groupby(rows.all(), key=itemgetter(6))}


def grouped(rows: Iterable[Any]) -> list[StoredSeries]:
    """Rows ordered by (meter, type, ts) as one StoredSeries per (meter, type), each
    transposed column-wise in one ``zip`` (no Python step per reading); columns after
    (…, value, quality, version) are left out."""
    out = []
    for (meter_id, reading_type_id), group in groupby(rows, key=itemgetter(0, 1)):
        _, _, ts, values, qualities, versions = list(zip(*group, strict=True))[:6]
        out.append(
            StoredSeries(
                meter_id, reading_type_id, list(ts), list(values), list(qualities), list(versions)
            )
        )
    return out
