"""Interval consumption plausibility: spikes, negatives, zeros, flat-lines, high/low usage."""

from __future__ import annotations

from functools import partial
from operator import is_not
from statistics import median

from cimhub.vee import quality
from cimhub.vee.batch import Batch, Scope
from cimhub.vee.context import MeterState
from cimhub.vee.finding import Action, Finding, Severity
from cimhub.vee.registry import any_interval, interval_demand, interval_energy, kw_per_unit, rule
from cimhub.vee.runs import equal_runs, found, runs


@rule("usage.spike", interval_energy)
def spike(scope: Scope) -> list[Finding]:
    """VEE standard "spike check": an interval above K × the median of its neighbours.

    The baseline is the median of up to ``spike_window`` received values each side
    (gaps are skipped, so a spike next to a gap is still judged on its other neighbours).
    A spike fails and is estimated.
    """
    p = scope.params
    values = scope.grid.values
    present = [v for v in values if v is not None]
    where = [i for i, v in enumerate(values) if v is not None]
    w, k = p.spike_window, p.spike_factor
    floor = k * p.spike_min  # nothing at or below K × spike_min is a spike: a cheap pre-filter
    out = []
    for j, v in enumerate(present):
        if v <= floor:
            continue
        neighbours = present[max(0, j - w) : j] + present[j + 1 : j + 1 + w]
        if len(neighbours) < 2 or v <= k * max(min(neighbours), p.spike_min):
            continue  # the median is no less than the least neighbour: no spike
        base = median(neighbours)
        if v > k * max(base, p.spike_min):
            ts = scope.grid.timestamps[where[j]]
            out.append(
                found(
                    scope,
                    "usage.spike",
                    Severity.ERROR,
                    quality.SUSPECT,
                    [ts],
                    f"{v} is more than {k:g} × the neighbours' median {base:g}",
                    Action.ESTIMATE,
                    value=v,
                    baseline=base,
                )
            )
    return out


@rule("usage.negative", interval_energy)
def negative(scope: Scope) -> list[Finding]:
    """VEE standard "negative consumption", except export/net channels of net-metered points."""
    rt = scope.batch.reading_type
    # net or reverse: negative is only wrong where the point is known not net-metered
    if rt.flow_direction in (4, 19) and scope.context.usage_point.net_metering is not False:
        return []
    grid = scope.grid
    if min(filter(partial(is_not, None), grid.values), default=0) >= 0:
        return []  # decided in C, without a Python statement per value
    stamps = [
        ts for ts, v in zip(grid.timestamps, grid.values, strict=True) if v is not None and v < 0
    ]
    if not stamps:
        return []
    return [
        found(
            scope,
            "usage.negative",
            Severity.ERROR,
            quality.OUTSIDE_RANGE,
            stamps,
            f"{len(stamps)} negative interval(s)",
            Action.ESTIMATE,
        )
    ]


def _import_energy(batch: Batch) -> bool:
    """Consumption channels: export channels are zero every night by nature."""
    return interval_energy(batch) and batch.reading_type.flow_direction != 19


@rule("usage.zero", _import_energy)
def zero(scope: Scope) -> list[Finding]:
    """VEE standard "zero consumption": N consecutive zero intervals on an energised,
    in-service meter. Intervals with no supply (inside a known outage, or while the relay
    was open: disconnected by command) break a run, and so do intervals whose outages are
    not known yet; the rule does not fire while the meter's state is unknown."""
    if scope.context.meter.state is not MeterState.IN_SERVICE:
        return []
    grid = scope.grid
    flags = [
        v == 0
        and scope.outages_known(ts)
        and not scope.in_outage(ts)
        and not scope.disconnected(ts)
        for ts, v in zip(grid.timestamps, grid.values, strict=True)
    ]
    out = []
    for first, last in runs(flags):
        if last - first + 1 >= scope.params.zero_run_intervals:
            stamps = grid.timestamps[first : last + 1]
            out.append(
                found(
                    scope,
                    "usage.zero",
                    Severity.WARNING,
                    quality.ZERO_USAGE,
                    stamps,
                    f"{len(stamps)} consecutive zero intervals on an energised meter",
                )
            )
    return out


@rule("usage.static", any_interval)
def static(scope: Scope) -> list[Finding]:
    """VEE standard "static value": N consecutive identical non-zero intervals."""
    grid = scope.grid
    n = scope.params.static_run_intervals
    out = []
    for first, last in equal_runs(grid.values, lambda v: v != 0, n):
        stamps = grid.timestamps[first : last + 1]
        out.append(
            found(
                scope,
                "usage.static",
                Severity.WARNING,
                quality.STATIC,
                stamps,
                f"{len(stamps)} identical intervals of {grid.values[first]}",
                value=grid.values[first],
            )
        )
    return out


@rule("usage.sanctioned", lambda b: interval_energy(b) or interval_demand(b))
def above_sanctioned(scope: Scope) -> list[Finding]:
    """VEE standard "high usage / demand too high" vs the sanctioned load (× a factor)."""
    load = scope.context.usage_point.sanctioned_load_kw
    if load is None:
        return []
    batch = scope.batch
    hours = batch.interval / 3600 if interval_energy(batch) else 1.0
    limit = load * hours * scope.params.sanctioned_load_factor / kw_per_unit(batch)
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
            "usage.sanctioned",
            Severity.WARNING,
            quality.ABOVE_MAXIMUM,
            stamps,
            f"{len(stamps)} interval(s) above {limit:g} (sanctioned {load:g} kW)",
            limit=limit,
        )
    ]


@rule("usage.inactive", interval_energy)
def inactive(scope: Scope) -> list[Finding]:
    """VEE standard "usage on inactive meter": consumption on a meter not in service."""
    if scope.context.meter.state is not MeterState.INACTIVE:
        return []
    grid = scope.grid
    stamps = [ts for ts, v in zip(grid.timestamps, grid.values, strict=True) if v]
    if not stamps:
        return []
    return [
        found(
            scope,
            "usage.inactive",
            Severity.ERROR,
            quality.INACTIVE_USAGE,
            stamps,
            f"consumption in {len(stamps)} interval(s) on a meter not in service",
        )
    ]


@rule("usage.disconnected", _import_energy)
def disconnected(scope: Scope) -> list[Finding]:
    """VEE standard "usage on inactive meter", for the relay: consumption in intervals
    that lie wholly inside a period the hub knows the meter's relay was open (an executed
    disconnect, or the meter's own 3.31.0.68 event, and no connect since). A meter whose
    relay is open measures nothing, so this is a sign of a bypassed or welded relay, a
    local reconnection, or a connect the hub never heard of. The value is real: it is
    kept (billing sees it) and marked, not estimated away."""
    if not scope.context.disconnected:
        return []
    grid = scope.grid
    used = [
        (ts, v)
        for ts, v in zip(grid.timestamps, grid.values, strict=True)
        if v is not None and v > 0 and scope.disconnected(ts, wholly=True)
    ]
    if not used:
        return []
    stamps = [ts for ts, _ in used]
    return [
        found(
            scope,
            "usage.disconnected",
            Severity.ERROR,
            quality.INACTIVE_USAGE,
            stamps,
            f"consumption in {len(stamps)} interval(s) while the relay was open (disconnected)",
            consumption=round(sum(v for _, v in used), 6),
        )
    ]
