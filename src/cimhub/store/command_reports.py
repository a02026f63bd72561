"""The disconnection summary (seed 004: "CMDM generates the summary report for disconnection
for all users (circle/division/zone)"): disconnect and reconnect commands of a period,
counted by state and outcome per organisation unit.

A command counts for the unit of the usage point its meter was installed at when the
command was created (the installation covering that moment, the main meter's first),
rolled up the organisation hierarchy to the level asked for. A meter at no usage point,
a usage point without a unit, or one whose unit sits above that level counts under the
unit "" ("unassigned").
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, select

from cimhub.domain.command import CommandKind, State
from cimhub.domain.hierarchy import Hierarchy, Level
from cimhub.store.command_models import CommandRow
from cimhub.store.master_models import HierarchyNode, Installation, UsagePoint
from cimhub.store.reports import Report
from cimhub.store.sql import member_of

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

KINDS = (CommandKind.DISCONNECT.value, CommandKind.CONNECT.value)
STATES = [s.value for s in State]
#: Outcome columns: no outcome yet, and not carried out (a timed-out command may still
#: get its late outcome, and then moves out of this column).
PENDING = {"requested", "awaiting_approval", "approved", "sent", "acknowledged"}
UNSUCCESSFUL = {"failed", "timed_out"}
COLUMNS = ["level", "unit", "unit_name", "kind", "total", *STATES, "pending", "unsuccessful"]
INST = cast(Table, Installation.__table__)
N = cast(Table, HierarchyNode.__table__)


def disconnections(
    uow: UnitOfWork, tenant_id: int, *, start: int, end: int, level: Level = Level.DIVISION
) -> Report:
    """Disconnect and connect (reconnect) commands created in [start, end), per unit."""
    commands = uow.session.execute(
        select(CommandRow.kind, CommandRow.state, CommandRow.meter_id, CommandRow.created_at)
        .where(
            CommandRow.tenant_id == tenant_id,
            CommandRow.kind.in_(KINDS),
            CommandRow.created_at >= start,
            CommandRow.created_at < end,
        )
        .order_by(CommandRow.id)
    ).all()
    places = _usage_points(uow, tenant_id, {c.meter_id for c in commands})
    units = _org_units(uow, tenant_id)
    counts: Counter[tuple[str, str, str]] = Counter()
    for kind, state, meter_id, created in commands:
        point = next((up for s, e, up in places.get(meter_id, ()) if s <= created < e), None)
        counts[(_unit_at(units, point, level), kind, state)] += 1
    rows = _rows(counts, units, level)
    by_kind = {k: sum(r["total"] for r in rows if r["kind"] == k) for k in KINDS}
    summary = {"start": start, "end": end, "level": level.value, "total": sum(by_kind.values()),
               "by_kind": by_kind, "units": len({r["unit"] for r in rows})}  # fmt: skip
    return Report(COLUMNS, rows, summary)


def _usage_points(
    uow: UnitOfWork, tenant_id: int, meter_ids: set[int]
) -> dict[int, list[tuple[int, float, int | None]]]:
    """meter → (start, end, the usage point's unit node) of its installations, main first."""
    if not meter_ids:
        return {}
    up = cast(Table, UsagePoint.__table__)
    rows = uow.session.execute(
        select(INST.c.meter_id, INST.c.start_ts, INST.c.end_ts, up.c.org_node_id)
        .select_from(INST.join(up, up.c.id == INST.c.usage_point_id))
        .where(
            INST.c.tenant_id == tenant_id,
            INST.c.canceled.is_(False),
            member_of(INST.c.meter_id, meter_ids, uow.dialect),
        )
        .order_by(INST.c.meter_id, INST.c.role != "main", INST.c.start_ts)
    ).all()
    out: dict[int, list[tuple[int, float, int | None]]] = {}
    for meter_id, begin, finish, node_id in rows:
        out.setdefault(meter_id, []).append(
            (begin, float("inf") if finish is None else finish, node_id)
        )
    return out


def _org_units(uow: UnitOfWork, tenant_id: int) -> dict[int, tuple[str, str, Level, int | None]]:
    """Organisation node id → (code, name, level, parent id)."""
    rows = uow.session.execute(
        select(N.c.id, N.c.code, N.c.name, N.c.level, N.c.parent_id).where(
            N.c.tenant_id == tenant_id, N.c.hierarchy == Hierarchy.ORGANISATION.value
        )
    ).all()
    return {i: (code, name, Level(lvl), parent) for i, code, name, lvl, parent in rows}


def _unit_at(
    units: dict[int, tuple[str, str, Level, int | None]], node_id: int | None, level: Level
) -> str:
    """The code of the node at ``level`` on the way up from ``node_id`` ("" if none)."""
    seen: set[int] = set()
    while node_id is not None and node_id in units and node_id not in seen:
        seen.add(node_id)
        code, _name, at, parent = units[node_id]
        if at is level:
            return code
        node_id = parent
    return ""


def _rows(
    counts: Counter[tuple[str, str, str]],
    units: dict[int, tuple[str, str, Level, int | None]],
    level: Level,
) -> list[dict[str, object]]:
    names = {code: name for code, name, _lvl, _parent in units.values()}
    rows = []
    for unit, kind in sorted({(u, k) for u, k, _ in counts}):
        states = {s: counts[(unit, kind, s)] for s in STATES}
        rows.append({
            "level": level.value, "unit": unit, "unit_name": names.get(unit, "(unassigned)"),
            "kind": kind, "total": sum(states.values()), **states,
            "pending": sum(states[s] for s in PENDING),
            "unsuccessful": sum(states[s] for s in UNSUCCESSFUL),
        })  # fmt: skip
    return rows
