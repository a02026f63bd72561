"""Usage points: master data (bulk create / change / upsert) and the meters that measure
each one — from the installation history, plus what readings reported (usage_point_link).

A retired usage point (record_status ``canceled`` or ``deleted``) is gone for the
interfaces, as a retired meter is (store/meter_assets.py): not matched, a change is 2.15,
a create reusing its mRID or consumer number 3.3. Its history stays (``stays_of``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.engine import Row

from cimhub.domain.hierarchy import HIERARCHY_OF, Hierarchy, Level
from cimhub.domain.installation import Window
from cimhub.domain.reading import MeterRef
from cimhub.domain.rule import DuplicateError
from cimhub.domain.usage_point import ATTRIBUTES as SPEC_ATTRIBUTES
from cimhub.domain.usage_point import UsagePointSpec
from cimhub.errors import DomainRuleError, UnknownObjectError
from cimhub.store.bulk import insert_rows, update_rows
from cimhub.store.master_models import HierarchyNode, Installation, UsagePoint
from cimhub.store.meter_assets import Mode, SaveResult
from cimhub.store.models import UsagePointLink, now
from cimhub.store.sql import insert_ignore, member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

U = cast(Table, UsagePoint.__table__)
I = cast(Table, Installation.__table__)  # noqa: E741
N = cast(Table, HierarchyNode.__table__)
ATTRIBUTES = (*SPEC_ATTRIBUTES, "dt_node_id", "feeder_node_id", "org_node_id")
#: record_status of a usage point that exists for the interfaces (else canceled / deleted).
ACTIVE = "active"
#: meter id → the windows of its stays at one usage point (None: unbounded, see stays_of)
Stays = dict[int, tuple[Window, ...] | None]


class UsagePointRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    # ---- what readings report -------------------------------------------------------

    def link(self, tenant_id: int, pairs: Sequence[tuple[int, str]], *, seen_at: int) -> None:
        """Record that meter m reported for usage point u, for each (m, u)."""
        distinct = sorted(set(pairs))
        session, dialect = self._uow.session, self._uow.dialect
        session.execute(
            insert_ignore(UsagePointLink, dialect, "tenant_id", "usage_point", "meter_id"),
            [
                {
                    "tenant_id": tenant_id,
                    "usage_point": up,
                    "meter_id": m,
                    "first_seen": seen_at,
                    "last_seen": seen_at,
                }
                for m, up in distinct
            ],
        )
        for up in {up for _, up in distinct}:
            meters = [m for m, u in distinct if u == up]
            session.execute(
                update(UsagePointLink)
                .where(
                    UsagePointLink.tenant_id == tenant_id,
                    UsagePointLink.usage_point == up,
                    member_of(UsagePointLink.meter_id, meters, dialect),
                )
                .values(last_seen=seen_at)
            )

    def stays_of(self, tenant_id: int, refs: Sequence[MeterRef]) -> list[Stays]:
        """For each usage point ref (mRID, consumer number or any name), every meter that
        was ever installed there or reported readings for it, with its windows there.

        A meter installed there is bounded by its installation history; a meter known
        only because its readings named the usage point has no history to cut by (None:
        all of its readings).
        """
        keys = {k for r in refs for k in (r.mrid, *r.names) if k}
        reported: dict[str, set[int]] = {}
        installed: dict[str, dict[int, set[Window]]] = {}
        if keys:
            dialect = self._uow.dialect
            for key, meter_id in self._uow.session.execute(
                select(UsagePointLink.usage_point, UsagePointLink.meter_id).where(
                    UsagePointLink.tenant_id == tenant_id,
                    member_of(UsagePointLink.usage_point, keys, dialect),
                )
            ).all():
                reported.setdefault(key, set()).add(meter_id)
            stmt = (
                select(U.c.mrid, U.c.consumer_number, I.c.meter_id, I.c.start_ts, I.c.end_ts)
                .select_from(U.join(I, I.c.usage_point_id == U.c.id))
                .where(
                    U.c.tenant_id == tenant_id,
                    I.c.canceled.is_(False),
                    or_(
                        member_of(U.c.mrid, keys, dialect),
                        member_of(U.c.consumer_number, keys, dialect),
                    ),
                )
            )
            for mrid, number, meter_id, start, end in self._uow.session.execute(stmt).all():
                for key in {mrid, number} - {None}:
                    installed.setdefault(key, {}).setdefault(meter_id, set()).add(
                        Window(start, end)
                    )
        out: list[Stays] = []
        for ref in refs:
            names = [k for k in (ref.mrid, *ref.names) if k]
            stays: dict[int, set[Window]] = {}
            for key in names:
                for meter_id, spans in installed.get(key, {}).items():
                    stays.setdefault(meter_id, set()).update(spans)
            found: Stays = {m: tuple(sorted(w, key=_start)) for m, w in stays.items()}
            for key in names:
                found.update({m: None for m in reported.get(key, ()) if m not in found})
            out.append(found)
        return out

    # ---- master data --------------------------------------------------------------------

    def match(
        self, tenant_id: int, keys: set[str], *, narrow: bool = False, retired: bool = False
    ) -> dict[str, Row[Any]]:
        """key → row of every key that is a stored usage point's mRID or consumer number
        (every column, or with ``narrow`` only id, mRID, consumer number and record
        status); with ``retired`` a canceled or deleted usage point counts too."""
        if not keys:
            return {}
        dialect = self._uow.dialect
        columns = [U.c.id, U.c.mrid, U.c.consumer_number, U.c.record_status] if narrow else [U]
        stmt = select(*columns).where(
            U.c.tenant_id == tenant_id,
            or_(
                member_of(U.c.mrid, keys, dialect),
                member_of(U.c.consumer_number, keys, dialect),
            ),
        )
        if not retired:
            stmt = stmt.where(U.c.record_status == ACTIVE)
        rows = self._uow.session.execute(stmt).all()
        out: dict[str, Row[Any]] = {}
        for row in rows:
            for key in (row.mrid, row.consumer_number):
                if key in keys:
                    out[key] = row
        return out

    def require(self, tenant_id: int, keys: Sequence[str]) -> dict[str, Row[Any]]:
        found = self.match(tenant_id, set(keys), narrow=True)
        for key in keys:
            if key not in found:
                raise UnknownObjectError(f"unknown usage point {key!r}", object_id=key)
        return found

    def save(self, tenant_id: int, specs: Sequence[UsagePointSpec], mode: Mode) -> SaveResult:
        _check_batch(specs)
        nodes = self._nodes(tenant_id, specs)
        keys = {k for s in specs for k in (s.mrid, s.consumer_number) if k}
        found = self.match(tenant_id, keys, retired=True)
        new, updates, stamp = [], [], now()
        for spec in specs:
            row = _one(spec, found)
            values = spec.attributes() | nodes.get(spec.key, {})
            if row is None:
                if mode is Mode.CHANGE:
                    raise UnknownObjectError(
                        f"unknown usage point {spec.key!r}", object_id=spec.key
                    )
                new.append(
                    {a: values.get(a) for a in ATTRIBUTES}
                    | {"mrid": spec.mrid or spec.consumer_number}
                )
                continue
            _check_live(row, spec.key, mode)
            if mode is Mode.CREATE:
                raise DuplicateError(f"usage point {spec.key!r} exists", object_id=spec.key)
            old = {a: getattr(row, a) for a in ATTRIBUTES}
            if old | values != old:
                updates.append({"id": row.id, **old, **values})
        for fresh in new:
            fresh.update(tenant_id=tenant_id, created_at=stamp, record_status="active")
            fresh["metered"] = True if fresh["metered"] is None else fresh["metered"]
        insert_rows(self._uow, U, new)
        for changed in updates:
            changed["updated_at"] = stamp
        update_rows(self._uow, U, updates)
        ids = {k: r.id for k, r in found.items()}  # of the usage points that existed
        return SaveResult(ids, len(new), len(updates), len(specs) - len(new) - len(updates))

    def set_status(self, ids: Sequence[int], **values: Any) -> None:
        self._uow.session.execute(
            update(U)
            .where(member_of(U.c.id, ids, self._uow.dialect))
            .values(**values, updated_at=now())
        )

    def _nodes(
        self, tenant_id: int, specs: Sequence[UsagePointSpec]
    ) -> dict[str, dict[str, int | None]]:
        """spec key → dt/feeder/org node ids; 2.15 unknown code, 3.1 wrong level."""
        codes = {c for s in specs for c in (s.dt_code, s.feeder_code, s.org_code) if c}
        known = self._uow.hierarchy.require(tenant_id, sorted(codes))
        dt_parents = self._parents([known[s.dt_code][0] for s in specs if s.dt_code])
        out: dict[str, dict[str, int | None]] = {}
        for spec in specs:
            ids: dict[str, int | None] = {}
            if spec.dt_code:
                ids["dt_node_id"] = _of_level(known, spec.dt_code, Level.DT)
                ids["feeder_node_id"] = dt_parents.get(ids["dt_node_id"] or 0)
            if spec.feeder_code:
                ids["feeder_node_id"] = _of_level(known, spec.feeder_code, Level.FEEDER)
            if spec.org_code:
                node_id, level = known[spec.org_code]
                if HIERARCHY_OF[level] is not Hierarchy.ORGANISATION:
                    raise DomainRuleError(
                        f"{spec.org_code!r} is a {level}, not an organisation unit",
                        object_id=spec.org_code,
                    )
                ids["org_node_id"] = node_id
            out[spec.key] = ids
        return out

    def _parents(self, node_ids: list[int]) -> dict[int, int]:
        if not node_ids:
            return {}
        rows = self._uow.session.execute(
            select(N.c.id, N.c.parent_id).where(member_of(N.c.id, node_ids, self._uow.dialect))
        ).all()
        return {node_id: parent for node_id, parent in rows if parent is not None}


def _start(window: Window) -> int:
    return window.start


def _of_level(known: dict[str, tuple[int, Level]], code: str, level: Level) -> int:
    node_id, actual = known[code]
    if actual is not level:
        raise DomainRuleError(f"{code!r} is a {actual}, not a {level}", object_id=code)
    return node_id


def _check_live(row: Row[Any], key: str, mode: Mode) -> None:
    """A retired usage point: unknown to a change (2.15), its identity taken for a create."""
    if row.record_status == ACTIVE:
        return
    if mode is Mode.CHANGE:
        raise UnknownObjectError(
            f"unknown usage point {key!r} ({row.record_status})", object_id=key
        )
    raise DuplicateError(
        f"usage point {key!r} names the {row.record_status} usage point {row.mrid!r}: "
        "a retired usage point's mRID and consumer number are not reused",
        object_id=key,
    )


def _one(spec: UsagePointSpec, found: dict[str, Row[Any]]) -> Row[Any] | None:
    by_mrid = found.get(spec.mrid) if spec.mrid else None
    by_number = found.get(spec.consumer_number) if spec.consumer_number else None
    if by_mrid is not None and by_number is not None and by_mrid.id != by_number.id:
        raise DuplicateError(
            f"consumer number {spec.consumer_number!r} belongs to {by_number.mrid!r}",
            object_id=spec.consumer_number,
        )
    return by_mrid or by_number


def _check_batch(specs: Sequence[UsagePointSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        spec.check()
        for key in {spec.mrid, spec.consumer_number} - {None}:
            assert key is not None
            if key in seen:
                raise DuplicateError(f"usage point {key!r} appears twice", object_id=key)
            seen.add(key)
