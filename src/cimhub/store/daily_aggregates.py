"""Daily pre-aggregation: billing determinants per (usage point, meter, local day), kept up
to date from the validated layer as it changes (seed 002 Annexure H: "performing the
billing determinant summations daily … month-to-date").

Ingest and edits call ``refresh_*`` with what they validated; only the local days those
readings fall in are re-aggregated, from the whole validated day. Meters that stand at no
usage point (as main or check meter) have no aggregates. Ingest hands over the series VEE
has just stored: they are taken from memory, and only the rest of their days is read back
(a message of a UTC day touches two local days, of which it covers most).
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, delete, not_, or_, select

from cimhub.billing.channel import classify
from cimhub.billing.config import BillingConfig
from cimhub.billing.cycle import day_number, day_start, local_day
from cimhub.billing.daily import Intervals, aggregate_day
from cimhub.domain.installation import Installation, Role, Site
from cimhub.domain.meter import multiplier
from cimhub.domain.reading import ReadingKind
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.billing_models import BillingDaily
from cimhub.store.bulk import insert_rows
from cimhub.store.master_models import Installation as InstallationRow
from cimhub.store.master_models import UsagePoint
from cimhub.store.models import Meter
from cimhub.store.models import now as clock
from cimhub.store.sql import member_of
from cimhub.store.validated import CURRENT

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork
    from cimhub.vee.edit import Edit
    from cimhub.vee.engine import Validated

D = BillingDaily.__table__
U = UsagePoint.__table__
I = cast(Table, InstallationRow.__table__)  # noqa: E741
M = cast(Table, Meter.__table__)
ROLES = {Role.MAIN: "main", Role.CHECK: "check"}
STEP_MINUTES = 5  #: resolution of TOU slots
Span = tuple[int, int, int]  # meter id, first ts (exclusive), last ts
#: Distinct spans of series taken from memory that one read-back statement leaves out;
#: beyond, the days are read back whole (a message's meters usually share one span).
MAX_KNOWN_SPANS = 8


def refresh_validated(
    uow: UnitOfWork, tenant_id: int, validated: Sequence[Validated], *, as_stored: bool
) -> int:
    """After VEE stored ``validated``: re-aggregate the local days its energy series touch,
    the estimates of a gap before the readings included. ``as_stored``: the store now
    holds exactly these values (VEE kept no edit and no measured value in their place),
    so gapless series are taken from memory rather than read back."""
    prepared = prepare_validated(uow, tenant_id, validated, as_stored=as_stored)
    return 0 if prepared is None else prepared.write()


def prepare_validated(
    uow: UnitOfWork,
    tenant_id: int,
    validated: Sequence[Validated],
    *,
    as_stored: bool,
    before_stored: bool = False,
) -> Refresh | None:
    """``refresh_validated`` up to its ``compute`` and ``write``; None when no day is to
    be aggregated. ``before_stored``: ``validated`` is not stored yet; the rest of the
    days is read now only if every series is taken from memory (the read-back then
    reads none of the rows still to be written), else by ``write``."""
    spans: list[Span] = []
    known: dict[tuple[int, str], Points | None] = {}
    for v in validated:
        found = classify(v.key.reading_type) if v.kind is ReadingKind.INTERVAL else None
        if found is None or not v.timestamps:  # no determinant is built from it
            continue
        interval, stamps = found[1], v.timestamps
        spans.append((v.key.meter_id, stamps[0] - interval, stamps[-1]))
        if as_stored and stamps[-1] - stamps[0] == (len(stamps) - 1) * interval:
            key = (v.key.meter_id, v.key.reading_type)
            known[key] = None if key in known else (stamps, v.values, v.qualities)
    series = {key: points for key, points in known.items() if points is not None}
    read_now = not before_stored or (
        len(series) == len(spans) and len(_spans(uow, series)) <= MAX_KNOWN_SPANS
    )
    return _prepare(uow, tenant_id, spans, series, read_now=read_now)


def refresh_edits(uow: UnitOfWork, tenant_id: int, edits: Sequence[Edit]) -> int:
    """After edits of the validated layer: re-aggregate the edited days only."""
    return refresh(uow, tenant_id, [(e.meter_id, e.ts - 1, e.ts) for e in edits])


def refresh(
    uow: UnitOfWork,
    tenant_id: int,
    spans: Iterable[Span],
    known: Mapping[tuple[int, str], Points] | None = None,
) -> int:
    """Re-aggregate the local days of (first, last] of each meter; returns rows written.
    ``known``: (meter, ReadingType code) → series as stored, gapless, not read back."""
    prepared = _prepare(uow, tenant_id, spans, known, read_now=False)
    return 0 if prepared is None else prepared.write()


def _prepare(
    uow: UnitOfWork,
    tenant_id: int,
    spans: Iterable[Span],
    known: Mapping[tuple[int, str], Points] | None,
    *,
    read_now: bool,
) -> Refresh | None:
    spans = list(spans)
    if not spans:
        return None
    stays, sites = _stays(uow, tenant_id, {m for m, _, _ in spans})
    if not stays:
        return None
    config = BillingConfigs(uow).current(tenant_id)
    zone = config.zone
    days: dict[int, set[date]] = defaultdict(set)
    for meter, first, last in spans:
        day, stop = local_day(first + 1, zone), local_day(last, zone)
        while day <= stop:
            days[meter].add(day)
            day += timedelta(days=1)
    refresh = Refresh(uow, tenant_id, config, stays, days, sites, known or {})
    if read_now:
        refresh.read()
    return refresh


@dataclass(frozen=True, slots=True)
class Sites:
    """What aggregating needs beyond the stays: each usage point's (tariff, category) and
    each meter's multiplier."""

    points: dict[int, tuple[str | None, str | None]]
    factors: dict[int, float]


def _stays(uow: UnitOfWork, tenant_id: int, meters: set[int]) -> tuple[list[Installation], Sites]:
    """The meters' stays (not cancelled) at usage points as main or check meter, by start,
    with their usage points and multipliers: one query, run on every ingest."""
    stmt = (
        select(
            I.c.id,
            I.c.meter_id,
            I.c.usage_point_id,
            I.c.role,
            I.c.start_ts,
            I.c.end_ts,
            U.c.tariff_code,
            U.c.category,
            M.c.ct_ratio,
            M.c.pt_ratio,
        )
        .select_from(I.join(U, U.c.id == I.c.usage_point_id).join(M, M.c.id == I.c.meter_id))
        .where(
            I.c.tenant_id == tenant_id,
            I.c.canceled.is_(False),
            member_of(I.c.meter_id, meters, uow.dialect),
            I.c.role.in_([role.value for role in ROLES]),
        )
        .order_by(I.c.start_ts, I.c.id)
    )
    rows = uow.session.execute(stmt).all()
    stays = [
        Installation(r.meter_id, Site(r.usage_point_id), Role(r.role), r.start_ts, r.end_ts, r.id)
        for r in rows
    ]
    points = {r.usage_point_id: (r.tariff_code, r.category) for r in rows}
    factors = {r.meter_id: multiplier(r.ct_ratio, r.pt_ratio) for r in rows}
    return stays, Sites(points, factors)


def aggregate(
    uow: UnitOfWork,
    tenant_id: int,
    config: BillingConfig,
    stays: Sequence[Installation],
    days: dict[int, set[date]],
    sites: Sites | None = None,
    known: Mapping[tuple[int, str], Points] | None = None,
) -> int:
    """Recompute and replace the daily rows of ``days`` per meter, for every stay
    (``sites``: the stays' usage points and meters, when the caller read them already;
    ``known``: series as stored, see ``refresh``)."""
    return Refresh(uow, tenant_id, config, stays, days, sites, known or {}).write()


@dataclass(slots=True)
class Refresh:
    """Daily rows to recompute: ``read`` (the rest of the days from the store), ``compute``
    (no I/O; ingest runs it while the server stores the validated rows), ``write``."""

    uow: UnitOfWork
    tenant_id: int
    config: BillingConfig
    stays: Sequence[Installation]
    days: dict[int, set[date]]
    sites: Sites | None
    known: Mapping[tuple[int, str], Points]
    data: dict[int, dict[str, Points]] | None = None
    rows: list[dict[str, Any]] | None = None

    def read(self) -> None:
        """The days' validated intervals not known from memory (and the sites, if not
        given)."""
        uow, tenant_id, zone, days = self.uow, self.tenant_id, self.config.zone, self.days
        lo = min(day_start(min(d), zone) for d in days.values())
        hi = max(day_start(max(d) + timedelta(days=1), zone) for d in days.values())
        self.data = _validated(uow, tenant_id, set(days), lo, hi, self.known)
        if self.sites is None:
            self.sites = Sites(
                _usage_points(uow, tenant_id, {s.site.usage_point_id for s in self.stays}),
                _multipliers(uow, tenant_id, set(days)),
            )

    @property
    def ready(self) -> bool:
        """Whether ``compute`` may run: everything it needs is read."""
        return self.data is not None and self.sites is not None

    def compute(self) -> None:
        """Every stay's days aggregated from what was read (no I/O)."""
        assert self.data is not None and self.sites is not None, "compute before read"
        config, zone, tenant_id = self.config, self.config.zone, self.tenant_id
        points, factors, data, days = self.sites.points, self.sites.factors, self.data, self.days
        buckets: dict[tuple[str, date], list[int]] = {}
        rows, stamp = [], clock()
        for stay in self.stays:
            tariff, category = points.get(stay.site.usage_point_id or 0, (None, None))
            for day in sorted(days.get(stay.meter_id, ())):
                start = day_start(day, zone)
                if stay.start >= start + 86_400 or (stay.end is not None and stay.end <= start):
                    continue
                calendar = config.calendar_for(tariff, category, day)
                key = (calendar.code, day)
                if key not in buckets:
                    buckets[key] = calendar.day_buckets(day, config.day_types.of(day), STEP_MINUTES)
                channels = _channels(
                    data.get(stay.meter_id, {}), stay, factors.get(stay.meter_id, 1)
                )
                result = aggregate_day(
                    channels,
                    day_start=start,
                    buckets=buckets[key],
                    bucket_minutes=STEP_MINUTES,
                    demand_seconds=config.demand_seconds(tariff),
                )
                rows.append(
                    {
                        "tenant_id": tenant_id,
                        "usage_point_id": stay.site.usage_point_id,
                        "day": day_number(day),
                        "meter_id": stay.meter_id,
                        "role": ROLES[stay.role],
                        "calendar": calendar.code,
                        "data": json.dumps(result.to_data(), separators=(",", ":")),
                        "computed_at": stamp,
                    }
                )
        self.rows = rows

    def write(self) -> int:
        """Replace the days' rows with the computed ones (read and computed now if not
        yet)."""
        if not self.ready:
            self.read()
        if self.rows is None:
            self.compute()
        assert self.rows is not None
        _replace(self.uow, self.tenant_id, self.days, self.rows)
        return len(self.rows)


def _replace(
    uow: UnitOfWork, tenant_id: int, days: dict[int, set[date]], rows: list[dict[str, Any]]
) -> None:
    by_range: dict[tuple[int, int], list[int]] = defaultdict(list)
    for meter, wanted in days.items():
        by_range[(day_number(min(wanted)), day_number(max(wanted)))].append(meter)
    for (first, last), meters in by_range.items():
        uow.session.execute(
            delete(D).where(
                D.c.tenant_id == tenant_id,
                member_of(D.c.meter_id, meters, uow.dialect),
                D.c.day.between(first, last),
            )
        )
    insert_rows(uow, D, rows)


#: One channel's stored validated intervals, columnar: timestamps, values, qualities.
Points = tuple[Sequence[int], Sequence[float], Sequence[str]]


def _validated(
    uow: UnitOfWork,
    tenant_id: int,
    meters: set[int],
    lo: int,
    hi: int,
    known: Mapping[tuple[int, str], Points],
) -> dict[int, dict[str, Points]]:
    """meter → ReadingType code → its interval readings in (lo, hi], sorted by time: the
    ``known`` series from memory, the rest of their days and every other energy series
    read back."""
    c = CURRENT.c
    known = {key: points for key, points in known.items() if key[0] in meters}
    spans = _spans(uow, known)
    if len(spans) > MAX_KNOWN_SPANS:
        known, spans = {}, {}
    conditions = [
        c.tenant_id == tenant_id,
        member_of(c.meter_id, meters, uow.dialect),
        c.kind == ReadingKind.INTERVAL.value,
        c.ts > lo,
        c.ts <= hi,
    ]
    if others := _not_energy(uow):  # voltage, current…: no determinant reads them
        conditions.append(not_(member_of(c.reading_type_id, others, uow.dialect)))
    if spans:
        known_rows = (_inside(span, ids, uow.dialect) for span, ids in spans.items())
        conditions.append(not_(or_(*known_rows)))
    stmt = (
        select(c.meter_id, c.reading_type_id, c.ts, c.value, c.quality)
        .where(*conditions)
        .order_by(c.meter_id, c.reading_type_id, c.ts)
    )
    # All rows at once, then a channel at a time: a day of 100 meters is ~20 000 rows,
    # and row-at-a-time fetching and grouping was most of a refresh's time.
    rows = uow.session.execute(stmt).all()
    out: dict[int, dict[int, Points]] = defaultdict(dict)
    for (meter, rt), group in groupby(rows, key=itemgetter(0, 1)):
        _, _, stamps, values, qualities = zip(*group, strict=True)
        out[meter][rt] = (stamps, values, qualities)
    codes = uow.reading_types.codes_for({rt for per in out.values() for rt in per})
    found = {m: {codes[rt]: pts for rt, pts in per.items()} for m, per in out.items()}
    for (meter, code), (stamps, values, qualities) in known.items():
        per = found.setdefault(meter, {})
        if code not in per:
            per[code] = (stamps, values, qualities)
            continue
        # what was read back lies before or after the known span
        old_stamps, old_values, old_qualities = per[code]
        i = bisect_left(old_stamps, stamps[0])
        per[code] = (
            [*old_stamps[:i], *stamps, *old_stamps[i:]],
            [*old_values[:i], *values, *old_values[i:]],
            [*old_qualities[:i], *qualities, *old_qualities[i:]],
        )
    return found


#: A span of known series and the (meters, ReadingType ids) whose series it is.
KnownSpans = dict[tuple[int, int, frozenset[int]], set[int]]


def _spans(uow: UnitOfWork, known: Mapping[tuple[int, str], Points]) -> KnownSpans:
    """The known series grouped for the read-back to leave them out: (first ts, last ts,
    the meter's ReadingType ids of that span) → meters."""
    if not known:
        return {}
    ids = uow.reading_types.find_ids({code for _, code in known})
    per_meter: dict[tuple[int, int, int], set[int]] = defaultdict(set)
    for (meter, code), (stamps, _, _) in known.items():
        per_meter[(meter, stamps[0], stamps[-1])].add(ids[code])
    spans: KnownSpans = defaultdict(set)
    for (meter, first, last), types in per_meter.items():
        spans[(first, last, frozenset(types))].add(meter)
    return spans


def _inside(span: tuple[int, int, frozenset[int]], meters: set[int], dialect: str) -> Any:
    first, last, types = span
    c = CURRENT.c
    return and_(
        member_of(c.meter_id, meters, dialect),
        member_of(c.reading_type_id, types, dialect),
        c.ts >= first,
        c.ts <= last,
    )


def _not_energy(uow: UnitOfWork) -> list[int]:
    """The ReadingType ids this process knows are not energy series (never stale: a
    type's code never changes; one not known yet is read back and skipped)."""
    return [rt for rt, code in uow.cache.reading_type_codes.items() if classify(code) is None]


def _channels(series: dict[str, Points], stay: Installation, factor: float) -> dict[Any, Intervals]:
    """The meter's energy channels, in kWh × its multiplier, inside its stay."""
    out = {}
    for code, (stamps, values, qualities) in series.items():
        known = classify(code)
        if known is None:
            continue
        channel, interval, scale = known
        # sorted stamps: the stay's intervals (start - interval >= stay.start, ts <= end)
        first = bisect_left(stamps, stay.start + interval)
        last = len(stamps) if stay.end is None else bisect_right(stamps, stay.end)
        kept = values[first:last]
        out[channel] = Intervals(
            interval,
            stamps[first:last],
            kept if scale == factor == 1 else [v * scale * factor for v in kept],
            qualities[first:last],
        )
    return out


def _usage_points(
    uow: UnitOfWork, tenant_id: int, ids: set[int | None]
) -> dict[int, tuple[str | None, str | None]]:
    wanted = {i for i in ids if i is not None}
    stmt = select(U.c.id, U.c.tariff_code, U.c.category).where(
        U.c.tenant_id == tenant_id, member_of(U.c.id, wanted, uow.dialect)
    )
    return {row.id: (row.tariff_code, row.category) for row in uow.session.execute(stmt)}


def _multipliers(uow: UnitOfWork, tenant_id: int, meters: set[int]) -> dict[int, float]:
    rows = uow.meter_assets.rows(tenant_id, meters, narrow=True)
    return {m: multiplier(r.ct_ratio, r.pt_ratio) for m, r in rows.items()}
