"""Meter lifecycle history: every stage change with who, when, why and through what."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, select

from cimhub.domain.lifecycle import Stage, Transition, check_transition
from cimhub.store.bulk import insert_rows, update_rows
from cimhub.store.master_models import MeterLifecycleEvent
from cimhub.store.models import Meter, now
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

E = cast(Table, MeterLifecycleEvent.__table__)
M = cast(Table, Meter.__table__)


class LifecycleRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def record(
        self,
        tenant_id: int,
        moves: Sequence[tuple[int, Transition]],
        *,
        source: str,
        set_stage: bool = True,
    ) -> None:
        """Store (meter_id, transition) moves and (unless the meter row already has it)
        set each meter's current stage.

        The caller has checked them (``move`` does both); the last move of a meter wins.
        """
        if not moves:
            return
        stamp = now()
        insert_rows(
            self._uow,
            E,
            [
                {
                    "tenant_id": tenant_id,
                    "meter_id": meter_id,
                    "from_stage": t.from_stage.value if t.from_stage else None,
                    "to_stage": t.to_stage.value,
                    "at": t.at,
                    "changed_by": t.by[:100],
                    "reason": t.reason[:200],
                    "source": source[:100],
                    "recorded_at": stamp,
                }
                for meter_id, t in moves
            ],
        )
        if not set_stage:
            return
        latest = {meter_id: t for meter_id, t in moves}
        update_rows(
            self._uow,
            M,
            [
                {"id": meter_id, "lifecycle_stage": t.to_stage.value, "lifecycle_since": t.at}
                for meter_id, t in latest.items()
            ],
        )

    def move(
        self,
        tenant_id: int,
        meters: Sequence[tuple[int, str, Stage]],
        target: Stage,
        *,
        at: int,
        by: str,
        reason: str,
        source: str,
    ) -> None:
        """Move each (meter_id, label, current stage) to ``target``, checking the table (3.4)."""
        moves = []
        for meter_id, label, current in meters:
            check_transition(current, target, meter=label)
            if current is not target:
                moves.append((meter_id, Transition(current, target, at, by, reason)))
        self.record(tenant_id, moves, source=source)

    def last(self, tenant_id: int, meter_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The latest recorded move of each meter."""
        if not meter_ids:
            return {}
        latest = (
            select(func.max(E.c.id))
            .where(
                E.c.tenant_id == tenant_id, member_of(E.c.meter_id, meter_ids, self._uow.dialect)
            )
            .group_by(E.c.meter_id)
        )
        rows = self._uow.session.execute(
            select(E.c.meter_id, E.c.from_stage, E.c.to_stage, E.c.at).where(E.c.id.in_(latest))
        ).all()
        return {row.meter_id: dict(row._mapping) for row in rows}

    def history(self, tenant_id: int, meter_id: int) -> list[dict[str, object]]:
        """The meter's moves in the order they were recorded (each with its effective time)."""
        rows = self._uow.session.execute(
            select(E.c.from_stage, E.c.to_stage, E.c.at, E.c.changed_by, E.c.reason, E.c.source)
            .where(E.c.tenant_id == tenant_id, E.c.meter_id == meter_id)
            .order_by(E.c.id)
        ).all()
        return [dict(row._mapping) for row in rows]
