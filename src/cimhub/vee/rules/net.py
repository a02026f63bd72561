"""Net metering: export above the installed PV capacity, per interval and per day."""

from __future__ import annotations

from collections import defaultdict

from cimhub.vee import quality
from cimhub.vee.batch import Batch, Scope
from cimhub.vee.finding import Finding, Severity
from cimhub.vee.registry import interval_energy, kw_per_unit, rule
from cimhub.vee.runs import found


def export_channel(batch: Batch) -> bool:
    return interval_energy(batch) and batch.reading_type.flow_direction == 19


@rule("net.export_above_pv", export_channel)
def export_above_pv(scope: Scope) -> list[Finding]:
    """§2.4.7 net metering: interval export above the installed PV capacity × a factor."""
    pv = scope.context.usage_point.pv_capacity_kw
    if pv is None:
        return []
    batch = scope.batch
    limit = pv * batch.interval / 3600 * scope.params.pv_export_factor / kw_per_unit(batch)
    grid = scope.grid
    stamps = [
        ts
        for ts, v in zip(grid.timestamps, grid.values, strict=True)
        if v is not None and v > limit
    ]
    if not stamps:
        return []
    return [
        found(
            scope,
            "net.export_above_pv",
            Severity.WARNING,
            quality.ABOVE_MAXIMUM,
            stamps,
            f"{len(stamps)} interval(s) export above {limit:g} (PV {pv:g} kW)",
            limit=limit,
        )
    ]


@rule("net.daily_export", export_channel)
def daily_export(scope: Scope) -> list[Finding]:
    """§2.4.7 net metering: a day's export above PV capacity × the maximum export hours."""
    pv = scope.context.usage_point.pv_capacity_kw
    if pv is None:
        return []
    limit = pv * scope.params.max_export_hours_per_day / kw_per_unit(scope.batch)
    totals: dict[int, float] = defaultdict(float)
    stamps: dict[int, list[int]] = defaultdict(list)
    for ts, v in zip(scope.grid.timestamps, scope.grid.values, strict=True):
        day = scope.local_day(ts)
        totals[day] += v or 0.0
        stamps[day].append(ts)
    return [
        found(
            scope,
            "net.daily_export",
            Severity.WARNING,
            quality.ABOVE_MAXIMUM,
            stamps[day],
            f"exported {total:g} in a day, above {limit:g}",
            day_total=total,
            limit=limit,
        )
        for day, total in sorted(totals.items())
        if total > limit
    ]
