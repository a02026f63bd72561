"""Hierarchy nodes: bulk upsert with parent, level and cycle checks; lookups by code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Row

from cimhub.domain.hierarchy import (
    HIERARCHY_OF,
    Level,
    NodeSpec,
    check_acyclic,
    check_parent,
)
from cimhub.domain.rule import DuplicateError
from cimhub.errors import UnknownObjectError
from cimhub.store.bulk import insert_rows, update_rows
from cimhub.store.master_models import HierarchyNode
from cimhub.store.models import now
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

N = cast(Table, HierarchyNode.__table__)


class HierarchyRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def ids(self, tenant_id: int, codes: Sequence[str]) -> dict[str, tuple[int, Level]]:
        """code → (id, level) of every code that exists."""
        if not codes:
            return {}
        rows = self._uow.session.execute(
            select(N.c.code, N.c.id, N.c.level).where(
                N.c.tenant_id == tenant_id, member_of(N.c.code, set(codes), self._uow.dialect)
            )
        ).all()
        return {code: (node_id, Level(level)) for code, node_id, level in rows}

    def require(self, tenant_id: int, codes: Sequence[str]) -> dict[str, tuple[int, Level]]:
        """Like ``ids``, raising 2.15 for the first code that does not exist."""
        found = self.ids(tenant_id, codes)
        for code in codes:
            if code not in found:
                raise UnknownObjectError(f"unknown hierarchy node {code!r}", object_id=code)
        return found

    def save(
        self, tenant_id: int, specs: Sequence[NodeSpec], *, create_only: bool = False
    ) -> tuple[int, int]:
        """Create or update nodes (parents may come in the same batch, in any order).

        Raises 2.15 for an unknown parent, 3.1 for a parent of the wrong level, 3.2 for a
        cycle, 3.3 for a code given twice (or, with ``create_only``, already stored).
        Returns how many nodes were created and how many changed.
        """
        seen: set[str] = set()
        for spec in specs:
            spec.check()
            if spec.code in seen:
                raise DuplicateError(f"node {spec.code!r} appears twice", object_id=spec.code)
            seen.add(spec.code)
        stored = self._all(tenant_id)
        if create_only:
            for spec in specs:
                if spec.code in stored:
                    raise DuplicateError(f"node {spec.code!r} exists", object_id=spec.code)
        levels = {code: Level(row.level) for code, row in stored.items()}
        levels.update((s.code, s.level) for s in specs)
        parents = {code: row.parent_code for code, row in stored.items()}
        for spec in specs:
            if spec.parent_code is not None and spec.parent_code not in levels:
                raise UnknownObjectError(
                    f"node {spec.code!r}: unknown parent {spec.parent_code!r}",
                    object_id=spec.parent_code,
                )
            check_parent(spec.code, spec.level, levels.get(spec.parent_code or ""))
            parents[spec.code] = spec.parent_code
        check_acyclic(parents)
        return self._write(tenant_id, specs, stored)

    def _all(self, tenant_id: int) -> dict[str, Row[Any]]:
        parent = N.alias("parent")
        rows = self._uow.session.execute(
            select(
                N.c.id,
                N.c.code,
                N.c.name,
                N.c.level,
                N.c.valid_from,
                N.c.valid_to,
                parent.c.code.label("parent_code"),
            )
            .select_from(N.outerjoin(parent, parent.c.id == N.c.parent_id))
            .where(N.c.tenant_id == tenant_id)
        ).all()
        return {row.code: row for row in rows}  # type: ignore[misc]

    def _write(
        self, tenant_id: int, specs: Sequence[NodeSpec], stored: dict[str, Row[Any]]
    ) -> tuple[int, int]:
        stamp = now()
        new = [s for s in specs if s.code not in stored]
        insert_rows(
            self._uow,
            N,
            [
                {
                    "tenant_id": tenant_id,
                    "hierarchy": HIERARCHY_OF[s.level].value,
                    "level": s.level.value,
                    "code": s.code,
                    "name": s.name or s.code,
                    "parent_id": None,
                    "valid_from": s.valid_from,
                    "valid_to": s.valid_to,
                    "created_at": stamp,
                }
                for s in new
            ],
        )
        changed = [s for s in specs if s.code in stored and _differs(s, stored[s.code])]
        touched = new + changed
        if touched:  # parents are linked once every node of the batch has its id
            wanted = [c for s in touched for c in (s.code, s.parent_code) if c]
            ids = {code: node_id for code, (node_id, _) in self.ids(tenant_id, wanted).items()}
            update_rows(
                self._uow,
                N,
                [
                    {
                        "id": ids[s.code],
                        "parent_id": ids[s.parent_code] if s.parent_code else None,
                        "level": s.level.value,
                        "hierarchy": HIERARCHY_OF[s.level].value,
                        "name": s.name or (stored[s.code].name if s.code in stored else s.code),
                        "valid_from": s.valid_from,
                        "valid_to": s.valid_to,
                        "updated_at": stamp,
                    }
                    for s in touched
                ],
            )
        return len(new), len(changed)

    def count(self, tenant_id: int) -> int:
        return self._uow.session.execute(
            select(func.count()).select_from(N).where(N.c.tenant_id == tenant_id)
        ).scalar_one()


def _differs(spec: NodeSpec, row: Row[Any]) -> bool:
    return (
        spec.level.value != row.level
        or spec.parent_code != row.parent_code
        or (spec.name is not None and spec.name != row.name)
        or spec.valid_from != row.valid_from
        or spec.valid_to != row.valid_to
    )
