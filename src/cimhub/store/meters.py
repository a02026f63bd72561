"""Meters and the names they are known by: bulk resolution of message references to ids.

A retired meter (record_status ``canceled`` or ``deleted``) is not found: messages naming
it are refused as naming an unknown meter (2.15), and auto-registration does not create a
new meter in its place (its mRID and names stay reserved, so its stored readings are never
mixed with a newcomer's). A history query passes ``as_of`` to still find a meter retired
after that instant: a retired record is frozen, so its ``updated_at`` is when it retired.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import CompoundSelect, Integer, Select, bindparam, literal_column, select, union_all

from cimhub.domain.reading import MeterRef
from cimhub.store.models import Meter, MeterName, now
from cimhub.store.sql import insert_ignore, member_of_param, member_values

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: name_type of the names an auto-registered meter arrived with.
NAME_TYPE = "name"
#: record_status of a meter that exists for the interfaces.
ACTIVE = "active"
#: a stored meter found by a key: (id, record_status, updated_at)
Found = tuple[int, str, int | None]


class MeterRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def find(
        self, tenant_id: int, refs: Sequence[MeterRef], *, as_of: int | None = None
    ) -> list[int | None]:
        """The meter id of each ref (by mRID first, else by any of its names), or None for
        an unknown or retired meter (``as_of``: one retired after that instant is found)."""
        return [_live(found, as_of) for found in self._lookup(tenant_id, refs)]

    def resolve(
        self,
        tenant_id: int,
        refs: Sequence[MeterRef],
        *,
        auto_register: bool,
    ) -> list[int | None]:
        """Like ``find``; with ``auto_register`` unknown meters are created. None stays
        for a retired meter: it is refused, never replaced by a new one.

        The tenant's own setting, when it has one, overrides ``auto_register``. Created
        meters are flagged ``auto_registered`` and stand in lifecycle stage ``unknown``
        until master data adopts them.
        """
        stored = self._lookup(tenant_id, refs)
        ids = [_live(found, None) for found in stored]
        missing = [ref for ref, found in zip(refs, stored, strict=True) if found is None]
        if not missing or not self._uow.tenants.get(tenant_id).auto_registers(auto_register):
            return ids
        self._register(tenant_id, missing)
        return self.find(tenant_id, refs)

    def _lookup(self, tenant_id: int, refs: Sequence[MeterRef]) -> list[Found | None]:
        """Each ref's stored meter, retired or not: ONE query (the readings ingest path
        asks this for every message) over mRIDs and names together."""
        mrids = {r.mrid for r in refs if r.mrid}
        names = {n for r in refs for n in r.names}
        if not mrids and not names:
            return [None] * len(refs)
        dialect = self._uow.dialect
        params: dict[str, Any] = {"tenant": tenant_id}
        if mrids:
            params["mrids"] = member_values(mrids, dialect)
        if names:
            params["names"] = member_values(names, dialect)
        stmt = _lookup_statement(bool(mrids), bool(names), dialect)
        by_mrid: dict[str, Found] = {}
        by_name: dict[str, Found] = {}
        for row in self._uow.session.execute(stmt, params).all():
            (by_mrid if row[0] == "mrid" else by_name)[row[1]] = (row[2], row[3], row[4])
        return [_match(ref, by_mrid, by_name) for ref in refs]

    def describe(self, tenant_id: int, meter_ids: Iterable[int]) -> dict[int, MeterRef]:
        """mRID and every name of each meter, for replies."""
        wanted = set(meter_ids)
        if not wanted:
            return {}
        dialect = self._uow.dialect
        rows = self._uow.session.execute(  # one round trip: a query answers with these
            _describe_statement(dialect),
            {"tenant": tenant_id, "meters": member_values(wanted, dialect)},
        )
        mrids: dict[int, str] = {}
        names: dict[int, list[str]] = {}
        for meter_id, mrid, name in rows:
            mrids[meter_id] = mrid
            if name is not None:
                names.setdefault(meter_id, []).append(name)
        return {mid: MeterRef(mrid, tuple(names.get(mid, ()))) for mid, mrid in mrids.items()}

    def _by_mrid(self, tenant_id: int, mrids: set[str]) -> dict[str, Found]:
        dialect = self._uow.dialect
        params = {"tenant": tenant_id, "mrids": member_values(mrids, dialect)}
        rows = self._uow.session.execute(_lookup_statement(True, False, dialect), params).all()
        return {row[1]: (row[2], row[3], row[4]) for row in rows}

    def _register(self, tenant_id: int, refs: Sequence[MeterRef]) -> None:
        """Create one meter per distinct unknown ref; refs sharing an mRID or a name merge."""
        meters, names = _new_meters(refs)
        created = now()
        dialect = self._uow.dialect
        # ON CONFLICT DO NOTHING: a concurrent registrar of the same meter wins; the
        # final find() then returns its id.
        self._uow.session.execute(
            insert_ignore(Meter, dialect, "tenant_id", "mrid"),
            [
                {
                    "tenant_id": tenant_id,
                    "mrid": mrid,
                    "serial_number": None,
                    "created_at": created,
                    "auto_registered": True,
                }
                for mrid in meters
            ],
        )
        ids = self._by_mrid(tenant_id, set(meters))
        rows = [
            {"tenant_id": tenant_id, "meter_id": ids[mrid][0], "name": name, "name_type": NAME_TYPE}
            for name, mrid in names.items()
        ]
        if rows:
            self._uow.session.execute(insert_ignore(MeterName, dialect, "tenant_id", "name"), rows)


def _live(found: Found | None, as_of: int | None) -> int | None:
    """The id of a meter that exists (at ``as_of``, when given), else None."""
    if found is None:
        return None
    meter_id, status, retired_at = found
    if status == ACTIVE or (as_of is not None and (retired_at or 0) > as_of):
        return meter_id
    return None


def _match(ref: MeterRef, by_mrid: dict[str, Found], by_name: dict[str, Found]) -> Found | None:
    if ref.mrid and ref.mrid in by_mrid:
        return by_mrid[ref.mrid]
    return next((by_name[n] for n in ref.names if n in by_name), None)


def _new_meters(refs: Sequence[MeterRef]) -> tuple[list[str], dict[str, str]]:
    """The mRIDs to create (a fresh uuid4 where a ref has none) and name → mRID."""
    mrids: dict[str, None] = {}  # an ordered set
    owner: dict[str, str] = {}  # name → mRID of the new meter it belongs to
    for ref in refs:
        mrid = (
            ref.mrid
            if ref.mrid in mrids
            else next((owner[n] for n in ref.names if n in owner), None)
        )
        if mrid is None:
            mrid = ref.mrid or str(uuid.uuid4())
            mrids[mrid] = None
        for name in ref.names:
            owner.setdefault(name, mrid)
    return list(mrids), owner


# The statements of every message's meter look-up and every reply's meter names are
# built once, their values bound at execution (building and keying them anew cost more
# than PostgreSQL's answer).


@lru_cache(maxsize=8)
def _lookup_statement(by_mrid: bool, by_name: bool, dialect: str) -> Select[Any] | CompoundSelect:
    """(key kind, key, id, record_status, updated_at) of the meters whose mRID is one of
    ``mrids`` and of those with a name among ``names`` (bound as ``member_values``)."""
    tenant = bindparam("tenant", type_=Integer)
    parts = []
    if by_mrid:
        parts.append(
            select(
                literal_column("'mrid'"),
                Meter.mrid,
                Meter.id,
                Meter.record_status,
                Meter.updated_at,
            ).where(Meter.tenant_id == tenant, member_of_param(Meter.mrid, "mrids", dialect))
        )
    if by_name:
        parts.append(
            select(
                literal_column("'name'"),
                MeterName.name,
                Meter.id,
                Meter.record_status,
                Meter.updated_at,
            )
            .join(Meter, Meter.id == MeterName.meter_id)
            .where(MeterName.tenant_id == tenant, member_of_param(MeterName.name, "names", dialect))
        )
    return parts[0] if len(parts) == 1 else union_all(*parts)


@lru_cache(maxsize=2)
def _describe_statement(dialect: str) -> Select[Any]:
    """(id, mRID, name) of the meters bound as ``meters``, each name a row (none: NULL)."""
    return (
        select(Meter.id, Meter.mrid, MeterName.name)
        .outerjoin(
            MeterName,
            (MeterName.meter_id == Meter.id) & (MeterName.tenant_id == Meter.tenant_id),
        )
        .where(
            Meter.tenant_id == bindparam("tenant", type_=Integer),
            member_of_param(Meter.id, "meters", dialect),
        )
        .order_by(Meter.id, MeterName.id)
    )
