"""DT-level outages (0005_dt_outages): re-derived from the meter outages under each DT.

The meters under a DT are those installed (now, not cancelled) at usage points linked to
it. After a meter's outages change, the DTs of those meters are re-derived; what changed
(a DT outage that is new, or newly restored) is returned so the caller can tell OMS/CIS.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from sqlalchemy import BigInteger, Integer, Table, func, select
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.domain.dt_outage import DtOutage, MeterOutage, derive_dt_outages
from cimhub.store.event_models import OutageRow
from cimhub.store.master_models import HierarchyNode, Installation, UsagePoint
from cimhub.store.models import Base, now
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

I = cast(Table, Installation.__table__)  # noqa: E741
U = cast(Table, UsagePoint.__table__)
N = cast(Table, HierarchyNode.__table__)


class DtOutageRow(Base):
    """One outage of one DT; (tenant, DT node, start) is its key."""

    __tablename__ = "dt_outage"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    end: Mapped[int | None] = mapped_column(BigInteger)
    meters_off: Mapped[int] = mapped_column(Integer)
    meters_total: Mapped[int] = mapped_column(Integer)
    derived_at: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class DtChange:
    """A DT outage raised (``restored`` False) or restored, for notifications."""

    dt: str  # the DT's code
    outage: DtOutage
    restored: bool


class DtOutageRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def dts_of(self, tenant_id: int, meter_ids: Sequence[int]) -> set[int]:
        """The DT nodes the meters are installed under now."""
        if not meter_ids:
            return set()
        stmt = (
            select(U.c.dt_node_id)
            .select_from(I.join(U, U.c.id == I.c.usage_point_id))
            .where(
                I.c.tenant_id == tenant_id,
                member_of(I.c.meter_id, set(meter_ids), self._uow.dialect),
                I.c.end_ts.is_(None),
                I.c.canceled.is_(False),
                U.c.dt_node_id.is_not(None),
            )
        )
        return set(self._uow.session.scalars(stmt))

    def meters_of(self, tenant_id: int, node_id: int) -> set[int]:
        stmt = (
            select(I.c.meter_id)
            .select_from(I.join(U, U.c.id == I.c.usage_point_id))
            .where(
                I.c.tenant_id == tenant_id,
                U.c.dt_node_id == node_id,
                I.c.end_ts.is_(None),
                I.c.canceled.is_(False),
            )
        )
        return set(self._uow.session.scalars(stmt))

    def rederive(
        self, tenant_id: int, meter_ids: Sequence[int], *, share: float, window: int
    ) -> list[DtChange]:
        """Re-derive the outages of the DTs of these meters; the raised and restored ones."""
        changes: list[DtChange] = []
        for node_id in sorted(self.dts_of(tenant_id, meter_ids)):
            meters = self.meters_of(tenant_id, node_id)
            derived = derive_dt_outages(
                self._meter_outages(tenant_id, meters), len(meters), share, window
            )
            changes += self._replace(tenant_id, node_id, derived)
        return changes

    def _meter_outages(self, tenant_id: int, meters: set[int]) -> dict[int, list[MeterOutage]]:
        rows = self._uow.session.execute(
            select(OutageRow.meter_id, OutageRow.start, OutageRow.end).where(
                OutageRow.tenant_id == tenant_id,
                member_of(OutageRow.meter_id, meters, self._uow.dialect),
            )
        )
        found: dict[int, list[MeterOutage]] = defaultdict(list)
        for meter_id, start, end in rows:
            found[meter_id].append((start, end))
        return found

    def _replace(self, tenant_id: int, node_id: int, derived: list[DtOutage]) -> list[DtChange]:
        session = self._uow.session
        stored = {
            r.start: r
            for r in session.scalars(
                select(DtOutageRow).where(
                    DtOutageRow.tenant_id == tenant_id, DtOutageRow.node_id == node_id
                )
            )
        }
        code = session.scalar(select(N.c.code).where(N.c.id == node_id)) or str(node_id)
        changes, stamp = [], now()
        for o in derived:
            row = stored.pop(o.start, None)
            if row is None:
                changes.append(DtChange(code, o, restored=False))
                if o.end is not None:
                    changes.append(DtChange(code, o, restored=True))
                row = DtOutageRow(tenant_id=tenant_id, node_id=node_id, start=o.start)
                session.add(row)
            elif row.end is None and o.end is not None:
                changes.append(DtChange(code, o, restored=True))
            row.end, row.meters_off, row.meters_total = o.end, o.meters_off, o.meters_total
            row.derived_at = stamp
        for gone in stored.values():  # no longer an outage once late events came in
            session.delete(gone)
        session.flush()
        return changes

    def listing(
        self, tenant_id: int, *, dt_code: str | None, open_only: bool, limit: int, offset: int
    ) -> tuple[list[dict[str, object]], int]:
        """DT outages, newest first, as dicts (DT code, start, end, meters off / total)."""
        where = [DtOutageRow.tenant_id == tenant_id, N.c.tenant_id == tenant_id]
        if dt_code is not None:
            where.append(N.c.code == dt_code)
        if open_only:
            where.append(DtOutageRow.end.is_(None))
        base = select(DtOutageRow, N.c.code).join(N, N.c.id == DtOutageRow.node_id).where(*where)
        total = self._uow.session.scalar(select(func.count()).select_from(base.subquery()))
        rows = self._uow.session.execute(
            base.order_by(DtOutageRow.start.desc(), N.c.code).limit(limit).offset(offset)
        ).all()
        items: list[dict[str, object]] = [
            {"dt": code, "start": r.start, "end": r.end, "meters_off": r.meters_off,
             "meters_total": r.meters_total, "derived_at": r.derived_at}
            for r, code in rows
        ]  # fmt: skip
        return items, int(total or 0)

    def outages(self, tenant_id: int, dt_code: str) -> list[DtOutage]:
        """One DT's outages, oldest first."""
        rows = self._uow.session.execute(
            select(
                DtOutageRow.start, DtOutageRow.end, DtOutageRow.meters_off, DtOutageRow.meters_total
            )
            .join(N, N.c.id == DtOutageRow.node_id)
            .where(
                DtOutageRow.tenant_id == tenant_id, N.c.code == dt_code, N.c.tenant_id == tenant_id
            )
            .order_by(DtOutageRow.start)
        )
        return [DtOutage(*r) for r in rows]
