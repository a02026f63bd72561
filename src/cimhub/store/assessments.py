"""Assessed consumption of usage points without a working meter, into the validated layer.

Who is assessed: every active non-metered usage point (from its connection date), and a
metered one for the days, after its first main meter, that no main meter stood there (a
meter removed and not yet replaced). The basis and the arithmetic are pure
(``cimhub.vee.assessment``); here the store supplies master data and the DT's outages,
and keeps the result: one ``DAILY_KWH`` value per local day, quality estimated
(``3.8.0``), method ``estimated:non_metered``, reason naming load × hours × factor,
versioned like every validated value (a user's edit is kept), and audited per run that
stored something.

The validated layer is keyed by meter: a usage point's assessments stand under its
*assessment series*, a meter record (``meter_type`` ``assessed``, ``record_status``
``assessment``, mRID ``assessed:<usage point mRID>``) that no message can name and no
inventory counts; it is linked to the usage point's mRID and consumer number, so
GetMeterReadings by UsagePoint answers with it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Select, Table, and_, func, or_, select

from cimhub.domain.installation import Role
from cimhub.domain.span import Span
from cimhub.store.audit import AuditLog
from cimhub.store.dt_outages import DtOutageRow
from cimhub.store.master_models import UsagePoint
from cimhub.store.models import Meter, UsagePointLink
from cimhub.store.sql import insert_ignore, member_of
from cimhub.store.validated import CURRENT, ApplyCounts, Row, ValidatedRepository
from cimhub.vee import assessment, quality
from cimhub.vee.assessment import DAILY_KWH, METHOD, RULE
from cimhub.vee.batch import DAY

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork
    from cimhub.vee.config import VeeConfig

U = cast(Table, UsagePoint.__table__)
M = cast(Table, Meter.__table__)
SERIES_STATUS = "assessment"  #: record_status of an assessment series
SERIES_TYPE = "assessed"
FOREVER = 2**62


@dataclass(slots=True)
class AssessRun:
    usage_points: int = 0
    days: int = 0
    kwh: float = 0.0
    stored: ApplyCounts = field(default_factory=ApplyCounts)
    no_load: list[str] = field(default_factory=list)  #: mRIDs without a load to assess by


def assess_period(
    uow: UnitOfWork,
    tenant_id: int,
    tenant: str,
    config: VeeConfig,
    start: int,
    end: int,
    *,
    now: int,
    actor: str,
) -> AssessRun:
    """Assess the local days ending in (start, end] and store them (see the module)."""
    points = _points(uow, tenant_id)
    metered = _main_meters(uow, tenant_id, points)
    nodes = {p["dt_node_id"] for p in points.values()}
    outages = _dt_outages(uow, tenant_id, nodes, (start - DAY, end + DAY), now)
    run, estimates = AssessRun(), {}
    for up_id, p in points.items():
        params = config.params(tenant, None, p["category"])
        if p["metered"] is not False and up_id not in metered:
            continue  # never had a meter here: a connection still to be metered
        # a kVA sanctioned load is taken at unity power factor, as VEE's rules take it
        load = (p["connected_load_kw"], p["sanctioned_load"])
        basis = assessment.basis_of(*load, p["operating_hours"], params)
        if basis is None:
            run.no_load.append(p["mrid"])
            continue
        days = _days(start, end, params.utc_offset_minutes, p["connected_on"])
        spans = metered.get(up_id, [])
        found = assessment.assess(
            days, basis, params, metered=spans, outages=outages.get(p["dt_node_id"], [])
        )
        if found:
            estimates[up_id] = (basis, found)
    rows = _rows(uow, tenant_id, points, estimates, config.version)
    run.stored = ValidatedRepository(uow).apply(tenant_id, rows, now=now)
    run.usage_points, run.days = len(estimates), len(rows)
    run.kwh = round(sum(r.value for r in rows), 6)
    if run.stored.inserted or run.stored.changed:  # a run that changed nothing says nothing
        _audit(uow, tenant, actor, start, end, run)
    return run


def _days(start: int, end: int, offset_minutes: int, connected_on: int | None) -> list[int]:
    """Local days whose end lies in (start, end] and after the connection date."""
    offset = offset_minutes * 60
    first = (start + offset) // DAY  # the day ending first after start
    last = (end + offset) // DAY - 1
    if connected_on is not None:
        first = max(first, (connected_on + offset) // DAY)
    return list(range(first, last + 1))


def _points(uow: UnitOfWork, tenant_id: int) -> dict[int, dict[str, Any]]:
    cols = ("id", "mrid", "consumer_number", "category", "metered", "connected_load_kw",
            "sanctioned_load", "operating_hours", "dt_node_id", "connected_on")  # fmt: skip
    stmt = select(*(U.c[c] for c in cols)).where(
        U.c.tenant_id == tenant_id, U.c.record_status == "active"
    )
    return {row.id: dict(row._mapping) for row in uow.session.execute(stmt)}


def _main_meters(
    uow: UnitOfWork, tenant_id: int, points: dict[int, dict[str, Any]]
) -> dict[int, list[Span]]:
    """The spans a main meter stood at each metered point (only points that had one)."""
    wanted = {i for i, p in points.items() if p["metered"] is not False}
    out: dict[int, list[Span]] = defaultdict(list)
    for stay in uow.installations.history(tenant_id, usage_point_ids=wanted):
        if stay.role is Role.MAIN and stay.site.usage_point_id in wanted:
            # before the first meter: nothing to assess (see assess_period)
            end = FOREVER if stay.end is None else stay.end
            out[stay.site.usage_point_id].append((stay.start, end))
    for spans in out.values():
        spans.append((-FOREVER, min(a for a, _ in spans)))
    return dict(out)


def _dt_outages(
    uow: UnitOfWork, tenant_id: int, nodes: set[int | None], period: Span, now: int
) -> dict[int, list[Span]]:
    """Each DT's outages overlapping ``period`` as (start, end) spans; one still open
    runs until now."""
    wanted = {n for n in nodes if n is not None}
    if not wanted:
        return {}
    t = DtOutageRow
    stmt = select(t.node_id, t.start, t.end).where(
        t.tenant_id == tenant_id,
        member_of(t.node_id, wanted, uow.dialect),
        t.start < period[1],
        or_(t.end.is_(None), t.end > period[0]),
    )
    out: dict[int, list[Span]] = defaultdict(list)
    for node, a, b in uow.session.execute(stmt):
        out[node].append((a, now if b is None else b))
    return dict(out)


def _rows(
    uow: UnitOfWork,
    tenant_id: int,
    points: dict[int, dict[str, Any]],
    estimates: dict[int, tuple[assessment.Basis, list[assessment.DayEstimate]]],
    config_version: str,
) -> list[Row]:
    if not estimates:
        return []
    series = series_of(uow, tenant_id, {i: points[i] for i in estimates})
    type_id = uow.reading_types.ids_for([DAILY_KWH])[DAILY_KWH]
    return [
        Row(
            series[up_id],
            type_id,
            e.ts,
            "interval",
            round(e.kwh, 6),
            quality.ESTIMATED,
            METHOD,
            RULE,
            "",
            e.reason(basis),
            config_version,
        )
        for up_id, (basis, found) in estimates.items()
        for e in found
    ]


def series_of(uow: UnitOfWork, tenant_id: int, points: dict[int, dict[str, Any]]) -> dict[int, int]:
    """Each usage point's assessment series (created on first use), by usage point id."""
    mrids = {f"{SERIES_TYPE}:{p['mrid']}": i for i, p in points.items()}
    uow.session.execute(
        insert_ignore(Meter, uow.dialect, "tenant_id", "mrid"),
        [{"tenant_id": tenant_id, "mrid": m, "meter_type": SERIES_TYPE,
          "record_status": SERIES_STATUS, "lifecycle_stage": "unknown",
          "auto_registered": False} for m in mrids],
    )  # fmt: skip
    stmt = select(M.c.mrid, M.c.id).where(
        M.c.tenant_id == tenant_id, member_of(M.c.mrid, set(mrids), uow.dialect)
    )
    found = {mrids[mrid]: meter_id for mrid, meter_id in uow.session.execute(stmt)}
    links = [
        {"tenant_id": tenant_id, "usage_point": key, "meter_id": found[i], "first_seen": 0,
         "last_seen": 0}
        for i, p in points.items()
        for key in {p["mrid"], p["consumer_number"]} - {None}
    ]  # fmt: skip
    uow.session.execute(
        insert_ignore(UsagePointLink, uow.dialect, "tenant_id", "usage_point", "meter_id"), links
    )
    return found


def assessed_kwh(
    uow: UnitOfWork, tenant_id: int, start: int, end: int
) -> dict[int, tuple[float, int]]:
    """Usage point id → (kWh, days) of its assessment series' current values in (start,
    end] (estimated, or edited since): what billing reads."""
    stmt = _assessed(uow, tenant_id, start, end, func.sum(CURRENT.c.value), func.count())
    if stmt is None:
        return {}
    stmt = stmt.group_by(U.c.id)
    return {up_id: (float(kwh), int(n)) for up_id, kwh, n in uow.session.execute(stmt)}


def assessed_days(
    uow: UnitOfWork, tenant_id: int, start: int, end: int, usage_point_ids: set[int]
) -> dict[int, list[int]]:
    """Usage point id → the ends of its assessed local days in (start, end]: what
    bill-readiness counts as complete."""
    stmt = _assessed(uow, tenant_id, start, end, CURRENT.c.ts) if usage_point_ids else None
    if stmt is None:
        return {}
    out: dict[int, list[int]] = defaultdict(list)
    stmt = stmt.where(member_of(U.c.id, usage_point_ids, uow.dialect))
    for up_id, ts in uow.session.execute(stmt):
        out[up_id].append(ts)
    return dict(out)


def _assessed(
    uow: UnitOfWork, tenant_id: int, start: int, end: int, *columns: Any
) -> Select[Any] | None:
    """The usage point id and ``columns`` of assessment series' values in (start, end]."""
    type_id = uow.reading_types.find_ids([DAILY_KWH]).get(DAILY_KWH)
    if type_id is None:
        return None
    c, links = CURRENT.c, cast(Table, UsagePointLink.__table__)
    link = links.c
    return (
        select(U.c.id, *columns)
        .select_from(
            CURRENT.join(M, and_(M.c.id == c.meter_id, M.c.record_status == SERIES_STATUS))
            .join(links, and_(link.tenant_id == tenant_id, link.meter_id == c.meter_id))
            .join(U, and_(U.c.tenant_id == tenant_id, U.c.mrid == link.usage_point))
        )
        .where(c.tenant_id == tenant_id, c.reading_type_id == type_id, c.ts > start, c.ts <= end)
    )


def _audit(uow: UnitOfWork, tenant: str, actor: str, start: int, end: int, run: AssessRun) -> None:
    AuditLog(uow).record(
        actor,
        "vee.non_metered",
        f"period:{start}-{end}",
        tenant=tenant,
        after={
            "usage_points": run.usage_points,
            "days": run.days,
            "kwh": run.kwh,
            "inserted": run.stored.inserted,
            "changed": run.stored.changed,
            "kept_edits": run.stored.kept_edits,
            "no_load": run.no_load[:100],
        },
    )
