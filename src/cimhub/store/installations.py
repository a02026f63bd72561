"""Installation rows: histories of meters and sites, and adding, closing, cancelling them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, or_, select, update

from cimhub.domain.installation import Installation, Role, Site
from cimhub.store.bulk import insert_rows, update_rows
from cimhub.store.master_models import HierarchyNode, UsagePoint
from cimhub.store.master_models import Installation as InstallationRow
from cimhub.store.models import Meter, now
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

I = cast(Table, InstallationRow.__table__)  # noqa: E741
M = cast(Table, Meter.__table__)
U = cast(Table, UsagePoint.__table__)
N = cast(Table, HierarchyNode.__table__)


class InstallationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def history(
        self,
        tenant_id: int,
        *,
        meter_ids: Iterable[int] = (),
        usage_point_ids: Iterable[int] = (),
        node_ids: Iterable[int] = (),
        active_only: bool = False,
    ) -> list[Installation]:
        """Every installation (not cancelled) of those meters or at those sites, by start."""
        dialect = self._uow.dialect
        meters, ups, nodes = set(meter_ids), set(usage_point_ids), set(node_ids)
        wanted = [
            member_of(column, values, dialect)
            for column, values in (
                (I.c.meter_id, meters),
                (I.c.usage_point_id, ups),
                (I.c.node_id, nodes),
            )
            if values
        ]
        if not wanted:
            return []
        stmt = (
            select(I, M.c.mrid, U.c.mrid.label("up_mrid"), N.c.code.label("node_code"))
            .select_from(
                I.join(M, M.c.id == I.c.meter_id)
                .outerjoin(U, U.c.id == I.c.usage_point_id)
                .outerjoin(N, N.c.id == I.c.node_id)
            )
            .where(I.c.tenant_id == tenant_id, I.c.canceled.is_(False), or_(*wanted))
            .order_by(I.c.start_ts, I.c.id)
        )
        if active_only:
            stmt = stmt.where(I.c.end_ts.is_(None))
        return [
            Installation(
                row.meter_id,
                Site(row.usage_point_id, row.node_id),
                Role(row.role),
                row.start_ts,
                row.end_ts,
                row.id,
                row.mrid,
                row.up_mrid or row.node_code or "",
            )
            for row in self._uow.session.execute(stmt).all()
        ]

    def add(
        self, tenant_id: int, items: Sequence[Installation], *, by: str, reasons: Sequence[str]
    ) -> None:
        if not items:
            return
        stamp = now()
        insert_rows(
            self._uow,
            I,
            [
                {
                    "tenant_id": tenant_id,
                    "meter_id": i.meter_id,
                    "usage_point_id": i.site.usage_point_id,
                    "node_id": i.site.node_id,
                    "role": i.role.value,
                    "start_ts": i.start,
                    "end_ts": i.end,
                    "canceled": False,
                    "reason": reason[:200],
                    "end_reason": "",
                    "changed_by": by[:100],
                    "created_at": stamp,
                }
                for i, reason in zip(items, reasons, strict=True)
            ],
        )

    def close(self, items: Sequence[tuple[int, int, str]]) -> None:
        """Set (installation id, end, reason) on each."""
        update_rows(
            self._uow,
            I,
            [{"id": i, "end_ts": end, "end_reason": reason[:200]} for i, end, reason in items],
        )

    def cancel(self, ids: Sequence[int], reason: str) -> None:
        if ids:
            self._uow.session.execute(
                update(I)
                .where(member_of(I.c.id, ids, self._uow.dialect))
                .values(canceled=True, end_reason=reason[:200])
            )
