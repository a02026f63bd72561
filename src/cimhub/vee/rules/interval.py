"""Interval completeness and timing: missing, off-grid, clock, duplicates, dates."""

from __future__ import annotations

from cimhub.vee import quality
from cimhub.vee.batch import Scope, grid_shift, snap
from cimhub.vee.finding import Action, Finding, Severity
from cimhub.vee.registry import any_batch, any_interval, rule
from cimhub.vee.runs import found, runs


@rule("interval.missing", any_interval)
def missing(scope: Scope) -> list[Finding]:
    """VEE standard "missing intervals" / RfP §2.4.4 a.ii: expected intervals not received.

    One finding per gap. A gap whose end is older than the re-acquisition wait is
    estimated; a younger one is only noted (the HES may still deliver it).
    """
    grid = scope.grid
    wait = scope.params.reacquisition_wait_minutes * 60
    out = []
    for first, last in runs([v is None for v in grid.values]):
        stamps = grid.timestamps[first : last + 1]
        due = stamps[-1] <= scope.now - wait
        out.append(
            found(
                scope,
                "interval.missing",
                Severity.ERROR if due else Severity.INFO,
                quality.MISSING,
                stamps,
                f"{len(stamps)} interval(s) missing"
                + ("" if due else " (within the re-acquisition wait)"),
                Action.ESTIMATE if due else Action.NOTE,
                intervals=len(stamps),
                outage=any(scope.in_outage(ts) for ts in stamps),
            )
        )
    return out


@rule("interval.off_grid", any_interval)
def off_grid(scope: Scope) -> list[Finding]:
    """VEE standard "extra intervals": a timestamp off the interval grid beyond tolerance.

    The reading cannot be placed in an interval: it is kept in raw, left out of the
    validated layer, and the interval it would have filled counts as missing. Readings of
    a drifting clock are not off the grid (``interval.clock_drift``).
    """
    batch, grid = scope.batch, scope.grid
    if not grid.off_grid:
        return []
    stamps = [batch.timestamps[i] for i in grid.off_grid]
    return [
        found(
            scope,
            "interval.off_grid",
            Severity.WARNING,
            quality.SUSPECT,
            stamps,
            f"{len(stamps)} reading(s) off the {batch.interval}-second grid",
            values=[batch.values[i] for i in grid.off_grid],
        )
    ]


@rule("interval.clock", any_interval)
def clock(scope: Scope) -> list[Finding]:
    """VEE standard "time tolerance": meter clock off the grid within tolerance (snapped)."""
    batch, grid = scope.batch, scope.grid
    if not grid.snapped:
        return []
    stamps = [batch.timestamps[i] for i in grid.snapped]
    slots = [snap(ts, batch.interval, grid_shift(batch.interval, scope.params)) for ts in stamps]
    return [
        found(
            scope,
            "interval.clock",
            Severity.INFO,
            quality.CLOCK_ERROR,
            slots,
            f"{len(stamps)} reading(s) stamped off the grid within tolerance, snapped",
            reported=stamps,
            drift_seconds=[ts - slot for ts, slot in zip(stamps, slots, strict=True)],
        )
    ]


@rule("interval.clock_drift", any_interval)
def clock_drift(scope: Scope) -> list[Finding]:
    """VEE standard "time tolerance": a drifting meter clock beyond tolerance, aligned.

    The readings of a clock whose offset from the grid changes slowly (``vee.drift``) are
    kept: each goes to the interval end it belongs to (the raw layer keeps the meter's
    stamp), valid and marked time-aligned. The finding carries the measured offsets; an
    exception rule asks for a time sync of the meter.
    """
    batch, grid = scope.batch, scope.grid
    if not grid.drifted:
        return []
    step, shift = batch.interval, grid_shift(batch.interval, scope.params)
    stamps = [batch.timestamps[i] for i in grid.drifted]
    slots = [snap(ts, step, shift) for ts in stamps]
    drift = [ts - slot for ts, slot in zip(stamps, slots, strict=True)]
    return [
        found(
            scope,
            "interval.clock_drift",
            Severity.INFO,
            quality.TIME_ALIGNED,
            slots,
            f"meter clock {drift[-1]:+d} s off the grid (beyond "
            f"{scope.params.clock_tolerance_seconds} s): {len(stamps)} reading(s) aligned",
            reported=stamps,
            drift_seconds=drift,
        )
    ]


@rule("interval.duplicate", any_interval)
def duplicate(scope: Scope) -> list[Finding]:
    """VEE standard "duplicates": two readings for one interval; the first is kept."""
    batch, grid = scope.batch, scope.grid
    if not grid.duplicates:
        return []
    stamps = [batch.timestamps[i] for i in grid.duplicates]
    return [
        found(
            scope,
            "interval.duplicate",
            Severity.WARNING,
            quality.SUSPECT,
            stamps,
            f"{len(stamps)} interval(s) received twice; the first reading kept",
            values=[batch.values[i] for i in grid.duplicates],
        )
    ]


@rule("time.future", any_batch)
def future(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 b.iii / c.iv: future read dates (beyond the future tolerance)."""
    limit = scope.now + scope.params.future_tolerance_seconds
    every = scope.batch.timestamps
    if not every or max(every) <= limit:
        return []
    stamps = [ts for ts in every if ts > limit]
    if not stamps:
        return []
    return [
        found(
            scope,
            "time.future",
            Severity.ERROR,
            quality.CLOCK_ERROR,
            stamps,
            f"{len(stamps)} reading(s) dated in the future",
            now=scope.now,
        )
    ]


@rule("time.old", any_batch)
def old(scope: Scope) -> list[Finding]:
    """RfP §2.4.4 b.iii / c.iv: old read dates (older than the maximum age)."""
    limit = scope.now - scope.params.max_age_days * 86_400
    every = scope.batch.timestamps
    if not every or min(every) >= limit:
        return []
    stamps = list(every) if max(every) < limit else [ts for ts in every if ts < limit]
    if not stamps:
        return []
    return [
        found(
            scope,
            "time.old",
            Severity.WARNING,
            quality.SUSPECT,
            stamps,
            f"{len(stamps)} reading(s) older than {scope.params.max_age_days} days",
            now=scope.now,
        )
    ]
