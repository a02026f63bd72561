"""Meters as assets: bulk create / change / upsert of master data, with lifecycle moves.

A meter the hub auto-registered from readings (stage ``unknown``) is adopted by the first
master data naming it by mRID or by one of its names: it keeps its id and readings.

A retired meter (record_status ``canceled`` or ``deleted``) is gone for the interfaces:
``match`` and ``require`` do not find it, a change naming it is refused as unknown (2.15),
and a create reusing its mRID or serial is refused as a duplicate (3.3): the record and
its readings stay, under its identity, for history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Row

from cimhub.domain.lifecycle import Stage, Transition, check_transition
from cimhub.domain.meter import ATTRIBUTES, MeterSpec
from cimhub.domain.rule import DuplicateError
from cimhub.errors import UnknownObjectError
from cimhub.store.bulk import insert_rows, update_rows
from cimhub.store.models import Meter, MeterName, now
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

M = cast(Table, Meter.__table__)
NAMES = cast(Table, MeterName.__table__)
SERIAL_NAME_TYPE = "SerialNumber"
#: The columns of a narrow read: enough to link, move and weigh a meter.
NARROW = (
    "id",
    "mrid",
    "serial_number",
    "lifecycle_stage",
    "auto_registered",
    "ct_ratio",
    "pt_ratio",
    "record_status",
)
#: record_status of a meter that exists for the interfaces (else canceled / deleted).
ACTIVE = "active"
#: The stage of a new meter whose master data names none.
NEW_STAGE = Stage.IN_STORE


class Mode(StrEnum):
    CREATE = "create"  # 3.3 if it exists (unless auto-registered: adopted)
    CHANGE = "change"  # 2.15 if it does not
    UPSERT = "upsert"  # bulk import: create or change


@dataclass(frozen=True, slots=True)
class SaveResult:
    ids: dict[str, int]  # spec key → meter id
    created: int = 0
    changed: int = 0
    unchanged: int = 0


class MeterAssetRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def save(
        self, tenant_id: int, specs: Sequence[MeterSpec], mode: Mode, *, source: str
    ) -> SaveResult:
        _check_batch(specs)
        found = self.match(tenant_id, specs, retired=True)
        new: list[MeterSpec] = []
        updates: list[dict[str, Any]] = []
        moves: list[tuple[int, Transition]] = []
        aliases: list[dict[str, Any]] = []
        stamp = now()
        for spec in specs:
            row = found.get(spec.key)
            if row is None:
                if mode is Mode.CHANGE:
                    raise UnknownObjectError(f"unknown meter {spec.key!r}", object_id=spec.key)
                new.append(spec)
                continue
            _check_live(row, spec.key, mode)
            if mode is Mode.CREATE and not row.auto_registered:
                raise DuplicateError(f"meter {spec.key!r} exists", object_id=spec.key)
            stored = {a: getattr(row, a) for a in ATTRIBUTES}
            merged = stored | spec.attributes()
            if merged != stored or row.auto_registered:
                updates.append({"id": row.id, **merged})
            aliases += _aliases(tenant_id, row, spec)
            if spec.stage is not None and spec.stage.value != row.lifecycle_stage:
                current = Stage(row.lifecycle_stage)
                check_transition(current, spec.stage, meter=spec.key)
                moves.append((row.id, _transition(current, spec, stamp)))
        insert_rows(self._uow, NAMES, aliases, ignore=("tenant_id", "name"))
        touched = len({u["id"] for u in updates} | {m for m, _ in moves})
        ids = {key: row.id for key, row in found.items()}
        ids.update(self._insert(tenant_id, new, stamp))
        self._update(updates, stamp)
        self._uow.lifecycle.record(tenant_id, moves, source=source)
        births = [(ids[s.key], _transition(None, s, stamp)) for s in new]  # stage set on insert
        self._uow.lifecycle.record(tenant_id, births, source=source, set_stage=False)
        return SaveResult(ids, len(new), touched, len(specs) - len(new) - touched)

    def match(
        self,
        tenant_id: int,
        specs: Sequence[MeterSpec],
        *,
        narrow: bool = False,
        retired: bool = False,
    ) -> dict[str, Row[Any]]:
        """key → stored row of every spec that names an existing meter (mRID, serial or name);
        with ``retired`` a canceled or deleted meter counts too.

        Raises 3.3 when a spec's mRID and serial name two different meters.
        """
        dialect, session = self._uow.dialect, self._uow.session
        keys = {k for s in specs for k in (s.mrid, s.serial_number) if k}
        if not keys:
            return {}
        ids = set(
            session.execute(
                select(M.c.id).where(
                    M.c.tenant_id == tenant_id,
                    member_of(M.c.mrid, keys, dialect)
                    | member_of(M.c.serial_number, keys, dialect),
                )
            )
            .scalars()
            .all()
        )
        names = dict(
            session.execute(
                select(NAMES.c.name, NAMES.c.meter_id).where(
                    NAMES.c.tenant_id == tenant_id, member_of(NAMES.c.name, keys, dialect)
                )
            ).all()
        )
        ids.update(names.values())
        rows = self.rows(tenant_id, ids, narrow=narrow)
        if not retired:
            rows = {i: r for i, r in rows.items() if r.record_status == ACTIVE}
        by_mrid = {r.mrid: r for r in rows.values()}
        by_serial = {r.serial_number: r for r in rows.values() if r.serial_number}
        out: dict[str, Row[Any]] = {}
        for spec in specs:
            by_id = by_mrid.get(spec.mrid) if spec.mrid else None
            serial = spec.serial_number
            by_sn = (by_serial.get(serial) or rows.get(names.get(serial, -1))) if serial else None
            if by_id is None and spec.mrid and not serial:
                by_id = rows.get(names.get(spec.mrid, -1))
            if by_id is not None and by_sn is not None and by_id.id != by_sn.id:
                raise DuplicateError(
                    f"serial {serial!r} belongs to meter {by_sn.mrid!r}, not {spec.mrid!r}",
                    object_id=serial,
                )
            row = by_id or by_sn
            if row is not None:
                out[spec.key] = row
        return out

    def rows(self, tenant_id: int, ids: set[int], *, narrow: bool = False) -> dict[int, Row[Any]]:
        """Stored meters by id: every column, or (``narrow``) identity, stage, multipliers."""
        if not ids:
            return {}
        columns = [M.c[c] for c in NARROW] if narrow else [M]
        rows = self._uow.session.execute(
            select(*columns).where(
                M.c.tenant_id == tenant_id, member_of(M.c.id, ids, self._uow.dialect)
            )
        ).all()
        return {row.id: row for row in rows}

    def require(self, tenant_id: int, keys: Sequence[str]) -> dict[str, Row[Any]]:
        """key (mRID, serial or name) → row; 2.15 for the first key naming no meter."""
        found = self.match(
            tenant_id, [MeterSpec(mrid=k, serial_number=k) for k in keys], narrow=True
        )
        for key in keys:
            if key not in found:
                raise UnknownObjectError(f"unknown meter {key!r}", object_id=key)
        return found

    def _insert(self, tenant_id: int, new: Sequence[MeterSpec], stamp: int) -> dict[str, int]:
        if not new:
            return {}
        session = self._uow.session
        insert_rows(
            self._uow,
            M,
            [
                {
                    "tenant_id": tenant_id,
                    "mrid": s.mrid or s.serial_number,
                    "created_at": stamp,
                    "auto_registered": False,
                    "lifecycle_stage": (s.stage or NEW_STAGE).value,
                    "lifecycle_since": s.stage_at or stamp,
                    "record_status": "active",
                    **{a: getattr(s, a) for a in ATTRIBUTES},
                }
                for s in new
            ],
        )
        mrids = {s.mrid or s.serial_number for s in new}
        ids = dict(
            session.execute(
                select(M.c.mrid, M.c.id).where(
                    M.c.tenant_id == tenant_id, member_of(M.c.mrid, mrids, self._uow.dialect)
                )
            ).all()
        )
        names = [
            {
                "tenant_id": tenant_id,
                "meter_id": ids[s.mrid or s.serial_number],
                "name": s.serial_number,
                "name_type": SERIAL_NAME_TYPE,
            }
            for s in new
            if s.serial_number
        ]
        insert_rows(self._uow, NAMES, names, ignore=("tenant_id", "name"))
        return {s.key: ids[s.mrid or s.serial_number] for s in new}

    def _update(self, updates: list[dict[str, Any]], stamp: int) -> None:
        if not updates:
            return
        for row in updates:
            row.update(auto_registered=False, updated_at=stamp)
        update_rows(self._uow, M, updates)

    def set_status(self, meter_ids: Sequence[int], status: str) -> None:
        """record_status: active, canceled (entered in error) or deleted."""
        self._uow.session.execute(
            update(M)
            .where(member_of(M.c.id, meter_ids, self._uow.dialect))
            .values(record_status=status, updated_at=now())
        )


def _check_live(row: Row[Any], key: str, mode: Mode) -> None:
    """A retired meter: unknown to a change (2.15), its identity taken for a create (3.3)."""
    if row.record_status == ACTIVE:
        return
    if mode is Mode.CHANGE:
        raise UnknownObjectError(f"unknown meter {key!r} ({row.record_status})", object_id=key)
    raise DuplicateError(
        f"meter {key!r} names the {row.record_status} meter {row.mrid!r}: "
        "a retired meter's mRID and serial are not reused",
        object_id=key,
    )


def _aliases(tenant_id: int, row: Row[Any], spec: MeterSpec) -> list[dict[str, Any]]:
    """Names an adopted (auto-registered) meter gains: master data's mRID and serial, so
    that both find it although it keeps the mRID it was registered under."""
    if not row.auto_registered:
        return []
    return [
        {"tenant_id": tenant_id, "meter_id": row.id, "name": name, "name_type": kind}
        for name, kind in ((spec.mrid, "mRID"), (spec.serial_number, SERIAL_NAME_TYPE))
        if name and name != row.mrid
    ]


def _transition(current: Stage | None, spec: MeterSpec, stamp: int) -> Transition:
    target = spec.stage or NEW_STAGE
    return Transition(
        current, target, spec.stage_at or stamp, spec.changed_by or "", spec.reason or ""
    )


def _check_batch(specs: Sequence[MeterSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        spec.check()
        for key in {spec.mrid, spec.serial_number} - {None}:
            assert key is not None
            if key in seen:
                raise DuplicateError(f"meter {key!r} appears twice", object_id=key)
            seen.add(key)
