"""The read side of master data: filtered, paged lists and details for REST, CIM gets and
reports. Rows come back as plain dicts (JSON-ready; times in UTC epoch seconds)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Select, Table, func, or_, select
from sqlalchemy.orm import aliased

from cimhub.domain.meter import ATTRIBUTES, MeterSpec
from cimhub.store.master_models import HierarchyNode, Installation, MeterLifecycleEvent, UsagePoint
from cimhub.store.models import Meter
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

M, U, N, INST, E = (
    cast(Table, Meter.__table__),
    cast(Table, UsagePoint.__table__),
    cast(Table, HierarchyNode.__table__),
    cast(Table, Installation.__table__),
    cast(Table, MeterLifecycleEvent.__table__),
)
METER_FIELDS = (
    "mrid",
    *ATTRIBUTES,
    "lifecycle_stage",
    "lifecycle_since",
    "auto_registered",
    "record_status",
    "created_at",
)
#: The LifecycleDate attribute each stage's latest move fills in (CIM MeterConfig).
STAGE_DATES = {
    "procured": "purchaseDate",
    "received_in_store": "receivedDate",
    "installed": "installationDate",
    "removed": "removalDate",
    "decommissioned": "retiredDate",
}


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class MasterQueries:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    # ---- meters -----------------------------------------------------------------------

    def meters(
        self, tenant_id: int, filters: Mapping[str, Any], *, limit: int, offset: int
    ) -> Page:
        """Filters: lifecycle_stage, make, meter_type, hes, auto_registered, record_status
        (active, canceled, deleted), serial (prefix), usage_point (mRID or consumer number
        of the current site)."""
        where: list[ColumnElement[bool]] = [M.c.tenant_id == tenant_id]
        for name in (
            "lifecycle_stage", "make", "meter_type", "hes", "auto_registered", "record_status",
        ):  # fmt: skip
            if filters.get(name) is not None:
                where.append(M.c[name] == filters[name])
        if filters.get("serial"):
            where.append(M.c.serial_number.startswith(filters["serial"]))
        if filters.get("usage_point"):
            key = filters["usage_point"]
            where.append(
                M.c.id.in_(
                    select(INST.c.meter_id)
                    .join(U, U.c.id == INST.c.usage_point_id)
                    .where(
                        INST.c.end_ts.is_(None),
                        INST.c.canceled.is_(False),
                        or_(U.c.mrid == key, U.c.consumer_number == key),
                    )
                )
            )
        stmt = select(M.c.id, *(M.c[f] for f in METER_FIELDS)).where(*where)
        return self._page(stmt, M.c.id, limit, offset, self._with_sites)

    def meters_by_keys(
        self, tenant_id: int, keys: Iterable[str], *, retired: bool = False
    ) -> dict[str, dict[str, Any]]:
        """key (mRID, serial or name) → meter, for CIM gets (``retired``: canceled and
        deleted meters too, for REST's record view)."""
        rows = self._uow.meter_assets.match(
            tenant_id, [MeterSpec(mrid=k, serial_number=k) for k in keys], retired=retired
        )
        out = self._with_sites(
            [{"id": r.id, **{f: getattr(r, f) for f in METER_FIELDS}} for r in rows.values()]
        )
        by_id = {m["id"]: m for m in out}
        return {key: by_id[row.id] for key, row in rows.items()}

    def meter_dates(self, tenant_id: int, meter_ids: list[int]) -> dict[int, dict[str, int]]:
        """meter id → {LifecycleDate attribute: epoch} from the latest move into each stage."""
        if not meter_ids:
            return {}
        rows = self._uow.session.execute(
            select(E.c.meter_id, E.c.to_stage, func.max(E.c.at))
            .where(
                E.c.tenant_id == tenant_id, member_of(E.c.meter_id, meter_ids, self._uow.dialect)
            )
            .group_by(E.c.meter_id, E.c.to_stage)
        ).all()
        out: dict[int, dict[str, int]] = {}
        for meter_id, stage, at in rows:
            if stage in STAGE_DATES:
                out.setdefault(meter_id, {})[STAGE_DATES[stage]] = at
        return out

    def installations(
        self, tenant_id: int, *, meter_id: int | None = None, usage_point_id: int | None = None
    ) -> list[dict[str, Any]]:
        stmt = (
            select(
                INST.c.id,
                INST.c.role,
                INST.c.start_ts,
                INST.c.end_ts,
                INST.c.reason,
                INST.c.end_reason,
                INST.c.changed_by,
                M.c.mrid.label("meter"),
                U.c.mrid.label("usage_point"),
                N.c.code.label("node"),
            )
            .select_from(
                INST.join(M, M.c.id == INST.c.meter_id)
                .outerjoin(U, U.c.id == INST.c.usage_point_id)
                .outerjoin(N, N.c.id == INST.c.node_id)
            )
            .where(INST.c.tenant_id == tenant_id, INST.c.canceled.is_(False))
            .order_by(INST.c.start_ts, INST.c.id)
        )
        if meter_id is not None:
            stmt = stmt.where(INST.c.meter_id == meter_id)
        if usage_point_id is not None:
            stmt = stmt.where(INST.c.usage_point_id == usage_point_id)
        return [dict(r._mapping) for r in self._uow.session.execute(stmt).all()]

    # ---- usage points -------------------------------------------------------------------

    def usage_points(
        self, tenant_id: int, filters: Mapping[str, Any], *, limit: int, offset: int
    ) -> Page:
        """Filters: category, tariff_code, payment_mode, status, metered, net_metering,
        record_status (active, canceled, deleted), dt / feeder / org (node codes)."""
        where: list[ColumnElement[bool]] = [U.c.tenant_id == tenant_id]
        for name in (
            "category",
            "tariff_code",
            "payment_mode",
            "status",
            "metered",
            "net_metering",
            "record_status",
        ):
            if filters.get(name) is not None:
                where.append(U.c[name] == filters[name])
        for name, column in (
            ("dt", U.c.dt_node_id),
            ("feeder", U.c.feeder_node_id),
            ("org", U.c.org_node_id),
        ):
            if filters.get(name):
                where.append(
                    column.in_(
                        select(N.c.id).where(N.c.tenant_id == tenant_id, N.c.code == filters[name])
                    )
                )
        return self._page(self._up_select().where(*where), U.c.id, limit, offset, self._with_meters)

    def usage_points_by_keys(
        self, tenant_id: int, keys: Iterable[str], *, retired: bool = False
    ) -> dict[str, dict[str, Any]]:
        """key (mRID or consumer number) → usage point (``retired``: canceled and deleted
        ones too, for REST's record view)."""
        keys = set(keys)
        if not keys:
            return {}
        dialect = self._uow.dialect
        stmt = self._up_select().where(
            U.c.tenant_id == tenant_id,
            or_(
                member_of(U.c.mrid, keys, dialect),
                member_of(U.c.consumer_number, keys, dialect),
            ),
        )
        if not retired:
            stmt = stmt.where(U.c.record_status == "active")
        rows = [dict(r._mapping) for r in self._uow.session.execute(stmt).all()]
        rows = self._with_meters(rows)
        return {k: r for r in rows for k in (r["mrid"], r["consumer_number"]) if k in keys}

    def _up_select(self) -> Select[Any]:
        dt, feeder, org = aliased(N), aliased(N), aliased(N)
        return select(
            U.c.id,
            *(
                c
                for c in U.c
                if c.name not in ("id", "tenant_id", "dt_node_id", "feeder_node_id", "org_node_id")
            ),
            dt.c.code.label("dt"),
            feeder.c.code.label("feeder"),
            org.c.code.label("org"),
        ).select_from(
            U.outerjoin(dt, dt.c.id == U.c.dt_node_id)
            .outerjoin(feeder, feeder.c.id == U.c.feeder_node_id)
            .outerjoin(org, org.c.id == U.c.org_node_id)
        )

    # ---- hierarchy ----------------------------------------------------------------------

    def nodes(self, tenant_id: int, filters: Mapping[str, Any], *, limit: int, offset: int) -> Page:
        """Filters: hierarchy, level, parent (code), code, as_of (epoch: nodes in effect)."""
        parent = aliased(N)
        stmt = select(
            N.c.id,
            N.c.hierarchy,
            N.c.level,
            N.c.code,
            N.c.name,
            N.c.valid_from,
            N.c.valid_to,
            parent.c.code.label("parent"),
        ).select_from(N.outerjoin(parent, parent.c.id == N.c.parent_id))
        stmt = stmt.where(N.c.tenant_id == tenant_id)
        for name in ("hierarchy", "level", "code"):
            if filters.get(name):
                stmt = stmt.where(N.c[name] == filters[name])
        if filters.get("parent"):
            stmt = stmt.where(parent.c.code == filters["parent"])
        if filters.get("as_of") is not None:
            at = filters["as_of"]
            stmt = stmt.where(
                or_(N.c.valid_from.is_(None), N.c.valid_from <= at),
                or_(N.c.valid_to.is_(None), N.c.valid_to > at),
            )
        return self._page(stmt, N.c.id, limit, offset, None)

    # ---- helpers ----------------------------------------------------------------------

    def _page(self, stmt: Select[Any], order: Any, limit: int, offset: int, enrich: Any) -> Page:
        session = self._uow.session
        total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        rows = [
            dict(r._mapping)
            for r in session.execute(stmt.order_by(order).limit(limit).offset(offset))
        ]
        return Page(enrich(rows) if enrich else rows, total, limit, offset)

    def _with_sites(self, meters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add each meter's current site (usage point mRID or node code) and role."""
        ids = [m["id"] for m in meters]
        sites: dict[int, tuple[str | None, str | None, str]] = {}
        if ids:
            rows = self._uow.session.execute(
                select(INST.c.meter_id, U.c.mrid, N.c.code, INST.c.role)
                .select_from(
                    INST.outerjoin(U, U.c.id == INST.c.usage_point_id).outerjoin(
                        N, N.c.id == INST.c.node_id
                    )
                )
                .where(
                    INST.c.end_ts.is_(None),
                    INST.c.canceled.is_(False),
                    member_of(INST.c.meter_id, ids, self._uow.dialect),
                )
            ).all()
            sites = {meter_id: (up, node, role) for meter_id, up, node, role in rows}
        for meter in meters:
            up, node, role = sites.get(meter["id"], (None, None, None))
            meter.update(usage_point=up, node=node, role=role)
        return meters

    def _with_meters(self, ups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add each usage point's active meters as [{mrid, role, since}]."""
        ids = [u["id"] for u in ups]
        found: dict[int, list[dict[str, Any]]] = {}
        if ids:
            rows = self._uow.session.execute(
                select(
                    INST.c.usage_point_id, M.c.mrid, M.c.serial_number, INST.c.role, INST.c.start_ts
                )
                .join(M, M.c.id == INST.c.meter_id)
                .where(
                    INST.c.end_ts.is_(None),
                    INST.c.canceled.is_(False),
                    member_of(INST.c.usage_point_id, ids, self._uow.dialect),
                )
            ).all()
            for up_id, mrid, serial, role, since in rows:
                found.setdefault(up_id, []).append(
                    {"mrid": mrid, "serial_number": serial, "role": role, "since": since}
                )
        for up in ups:
            up["meters"] = found.get(up["id"], [])
        return ups
