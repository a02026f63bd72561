"""Usage points as the readings name them, and the meters reported for each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from cimhub.domain.reading import MeterRef
from cimhub.store.models import UsagePointLink
from cimhub.store.sql import insert_ignore, member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


class UsagePointRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

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

    def meters_of(self, tenant_id: int, refs: Sequence[MeterRef]) -> list[list[int]]:
        """For each usage point ref (its mRID or any of its names), the meters linked to it."""
        keys = {k for r in refs for k in (r.mrid, *r.names) if k}
        found: dict[str, list[int]] = {}
        if keys:
            rows = self._uow.session.execute(
                select(UsagePointLink.usage_point, UsagePointLink.meter_id)
                .where(
                    UsagePointLink.tenant_id == tenant_id,
                    member_of(UsagePointLink.usage_point, keys, self._uow.dialect),
                )
                .order_by(UsagePointLink.meter_id)
            )
            for up, meter_id in rows:
                found.setdefault(up, []).append(meter_id)
        return [
            sorted({m for k in (r.mrid, *r.names) if k for m in found.get(k, [])}) for r in refs
        ]
