"""A drifting meter clock on hand-made series: aligned to the grid, not off it."""

from __future__ import annotations

from collections.abc import Sequence

from cimhub.domain.reading import ReadingKind
from cimhub.testing.vee_batches import KWH, MONDAY, STEP, context
from cimhub.vee.batch import Batch
from cimhub.vee.config import Layer, VeeConfig
from cimhub.vee.context import Previous, SeriesHistory
from cimhub.vee.drift import DriftLimits, drifting_after
from cimhub.vee.engine import VeeResult, validate
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


# -- a chain carried across batches: the series' last raw stamps before the batch ----------


def test_a_chain_goes_on_from_the_stamps_before_the_batch() -> None:
    lim = DriftLimits(jitter=10, largest=300, readings=3)
    known = [900, 1800, 2700]
    # 58, 59, 60 s before; 61 s now: |61 - 60| = 1 ≤ 10, four intervals ≥ 3
    assert drifting_after(known, [58, 59, 60], [3600], [61], lim) == {0}
    # on the grid before; 200 s now: |200 - 0| > 10, a chain of one
    assert drifting_after(known, [0, 0, 0], [3600], [200], lim) == set()
    # a jump before breaks the old chain; 59, 60 and 61 s are one of three
    assert drifting_after(known, [200, 59, 60], [3600], [61], lim) == {0}
    # 150 s jumps from 60 s; 61 s then follows 150 s by 89 s: neither is aligned
    assert drifting_after(known[1:], [59, 60], [3600, 4500], [150, 61], lim) == set()
    # one known reading and one new one are two intervals, fewer than three
    assert drifting_after([2700], [60], [3600], [61], lim) == set()


def test_after_a_jump_a_block_by_block_chain_starts_afresh() -> None:
    lim = DriftLimits(jitter=10, largest=300, readings=3)
    # the clock at 63, 65 s, one stamp 200 s off, then 67, 69, 71 s one block at a time:
    # the last three known stamps each time, as the store fetches them
    assert drifting_after([900, 1800, 2700], [63, 65, 200], [3600], [67], lim) == set()
    assert drifting_after([1800, 2700, 3600], [65, 200, 67], [4500], [69], lim) == set()
    assert drifting_after([2700, 3600, 4500], [200, 67, 69], [5400], [71], lim) == {0}


def one_block(offset: int, known: Sequence[int]) -> VeeResult:
    """T[3] alone, stamped ``offset`` s off, after the blocks before it stamped ``known`` s
    off (stored from earlier messages, validated up to T[2])."""
    batch = Batch(SeriesKey(1, KWH), ReadingKind.INTERVAL, [T[3] + offset], [0.23], [""])
    stamps = tuple(t + o for t, o in zip(T[3 - len(known) : 3], known, strict=True))
    history = {batch.key: SeriesHistory(Previous(T[2], 0.22), stamps=stamps)}
    return validate([batch], now=NOW, contexts={1: context()}, history=history)


def test_one_block_a_message_continuing_a_known_drift_is_aligned() -> None:
    result = one_block(61, [58, 59, 60])
    [drift] = rules(result, "interval.clock_drift")
    assert drift.timestamps == (T[3],) and drift.data["drift_seconds"] == [61]
    assert not rules(result, "interval.off_grid") and not rules(result, "interval.missing")
    v = result.validated[0]
    assert list(v.timestamps) == [T[3]] and list(v.values) == [0.23]
    assert list(v.qualities) == ["3.0.1 3.7.1000"]


def test_one_block_jumping_away_from_the_known_stamps_stays_off_grid() -> None:
    for known in ([0, 0, 0], [58, 59, 60]):  # on the grid, or a drift 60 s away from 120 s
        result = one_block(120, known)
        assert not rules(result, "interval.clock_drift")
        [off] = rules(result, "interval.off_grid")
        assert off.timestamps == (T[3] + 120,)
        assert [f.timestamps for f in rules(result, "interval.missing")] == [(T[3],)]


def test_without_known_stamps_one_block_beyond_the_tolerance_stays_off_grid() -> None:
    result = one_block(61, [])  # the store fetched none (or the history is too short)
    assert rules(result, "interval.off_grid") and not rules(result, "interval.clock_drift")
