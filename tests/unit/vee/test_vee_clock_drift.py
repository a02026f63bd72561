"""A drifting meter clock on hand-made series: aligned to the grid, not off it."""

from __future__ import annotations

from collections.abc import Sequence

from cimhub.domain.reading import ReadingKind
from cimhub.testing.vee_batches import KWH, MONDAY, STEP, context
from cimhub.vee.batch import Batch
from cimhub.vee.config import Layer, VeeConfig
from cimhub.vee.engine import validate
from cimhub.vee.finding import SeriesKey

NOW = MONDAY + 3 * 86_400
T = [MONDAY + STEP * i for i in range(1, 9)]  # eight 15-minute interval ends
VALUES = [0.20, 0.21, 0.22, 0.23, 0.24, 0.25, 0.26, 0.27]


def stamped(offsets: Sequence[int], values: Sequence[float] = VALUES) -> Batch:
    """The eight blocks, each stamped ``offset`` seconds from its interval end."""
    stamps = [t + o for t, o in zip(T, offsets, strict=True)]
    return Batch(SeriesKey(1, KWH), ReadingKind.INTERVAL, stamps, list(values), [""] * 8,
                 MONDAY, T[-1])  # fmt: skip


def run(batch: Batch, **parameters: object):
    config = VeeConfig(defaults=Layer(dict(parameters)))
    return validate([batch], now=NOW, contexts={1: context()}, config=config)


def rules(result, rule: str) -> list:
    return [f for f in result.findings if f.rule == rule]


def test_a_clock_drifting_past_the_tolerance_is_aligned_not_missing() -> None:
    # about a second a block (90 s a day): 56 … 63 s fast, past 60 s from the sixth block on
    result = run(stamped([56, 57, 58, 59, 60, 61, 62, 63]))
    [snapped] = rules(result, "interval.clock")
    assert snapped.timestamps == tuple(T[:5])
    assert snapped.data["drift_seconds"] == [56, 57, 58, 59, 60]
    [drift] = rules(result, "interval.clock_drift")
    assert drift.timestamps == tuple(T[5:])  # the interval ends, not the meter's stamps
    reported = [T[5] + 61, T[6] + 62, T[7] + 63]
    assert drift.data == {"reported": reported, "drift_seconds": [61, 62, 63]}
    assert "+63 s off the grid" in drift.description
    assert not rules(result, "interval.off_grid") and not rules(result, "interval.missing")
    v = result.validated[0]
    assert list(v.timestamps) == T and list(v.values) == VALUES  # measured, none estimated
    assert set(v.methods) == {"validated"}
    assert list(v.qualities[5:]) == ["3.0.1 3.7.1000"] * 3  # valid, time aligned
    assert list(v.qualities[:5]) == ["3.0.1 3.1.9"] * 5  # valid, clock error (snapped)


def test_a_slow_clock_drifts_the_other_way() -> None:
    result = run(stamped([-70, -71, -72, -72, -73, -74, -75, -76]))
    [drift] = rules(result, "interval.clock_drift")
    assert drift.timestamps == tuple(T) and drift.data["drift_seconds"][0] == -70
    assert list(result.validated[0].values) == VALUES


def test_readings_jumping_off_the_grid_at_random_stay_off_grid_and_missing() -> None:
    values = [0.2, 0.2, 0.9, 0.2, 0.9, 0.2, 0.9, 0.2]
    result = run(stamped([0, 0, 200, 0, -350, 0, 120, 0], values))
    [off] = rules(result, "interval.off_grid")
    assert off.timestamps == (T[2] + 200, T[4] - 350, T[6] + 120)
    assert not rules(result, "interval.clock_drift")
    assert [f.timestamps for f in rules(result, "interval.missing")] == [(T[2],), (T[4],), (T[6],)]
    got = dict(zip(result.validated[0].timestamps, result.validated[0].values, strict=True))
    assert [round(got[t], 6) for t in (T[2], T[4], T[6])] == [0.2] * 3  # linear, not the 0.9s


def test_a_jump_inside_a_drift_is_off_grid_and_the_chains_around_it_are_aligned() -> None:
    # 61, 62, 63 s; a block 300 s off; then 64, 65, 66 s again; the last block on the grid
    result = run(stamped([61, 62, 63, 300, 64, 65, 66, 0]))
    [drift] = rules(result, "interval.clock_drift")
    assert drift.timestamps == (T[0], T[1], T[2], T[4], T[5], T[6])
    [off] = rules(result, "interval.off_grid")
    assert off.timestamps == (T[3] + 300,)
    assert [f.timestamps for f in rules(result, "interval.missing")] == [(T[3],)]


def test_too_few_too_far_or_turned_off_is_off_grid() -> None:
    two = stamped([0, 0, 0, 0, 0, 0, 90, 91])  # two drifted readings: fewer than three
    far = stamped([310, 311, 312, 313, 314, 315, 316, 317])  # beyond 300 s
    within = stamped([61, 62, 63, 64, 65, 66, 67, 68])
    for result, off in [
        (run(two), 2),
        (run(far), 8),
        (run(within, clock_drift_max_seconds=0), 8),  # the tenant turned alignment off
        (run(two, clock_drift_min_readings=2), 0),  # or asks for two readings only
        (run(far, clock_drift_max_seconds=400), 0),
    ]:
        found = rules(result, "interval.off_grid")
        assert (len(found[0].timestamps) if found else 0) == off


def test_a_jittery_clock_beyond_the_allowed_jitter_is_off_grid() -> None:
    offsets = [61, 75, 61, 75, 61, 75, 61, 75]  # 14 s apart each time
    assert len(rules(run(stamped(offsets)), "interval.off_grid")[0].timestamps) == 8
    aligned = run(stamped(offsets), clock_drift_jitter_seconds=15)
    assert len(rules(aligned, "interval.clock_drift")[0].timestamps) == 8
