"""Completeness and timing rules on hand-made series with hand-computed expectations."""

from __future__ import annotations

from cimhub.domain.reading import ReadingKind
from cimhub.testing.vee_batches import KWH, MONDAY, STEP, context, intervals
from cimhub.vee.batch import Batch
from cimhub.vee.engine import validate
from cimhub.vee.finding import Action, SeriesKey

NOW = MONDAY + 3 * 86_400


def rules(result, rule: str) -> list:
    return [f for f in result.findings if f.rule == rule]


def test_a_gap_across_local_midnight_is_one_missing_finding_and_is_estimated() -> None:
    # 23:15 … 00:30 IST missing: the intervals ending 23:30, 23:45, 00:00, 00:15 (4 of them)
    day = [0.2 + 0.01 * (i % 5) for i in range(96 + 8)]
    for i in range(93, 97):  # interval ends 23:30 (i=93) … 00:15 (i=96)
        day[i] = None
    result = validate([intervals(day)], now=NOW, contexts={1: context()})
    [gap] = rules(result, "interval.missing")
    assert gap.timestamps == tuple(MONDAY + STEP * (i + 1) for i in range(93, 97))
    assert gap.action is Action.ESTIMATE and gap.data == {"intervals": 4, "outage": False}
    v = result.validated[0]
    assert len(v) == 104  # every slot of the period has a value
    # 1 h gap ≤ 2 h: linear between 0.22 (23:15, i=92) and 0.22 (00:30, i=97)
    got = dict(zip(v.timestamps, v.values, strict=True))
    assert [round(got[MONDAY + STEP * (i + 1)], 6) for i in range(93, 97)] == [0.22] * 4
    assert {v.methods[i] for i in range(93, 97)} == {"estimated:linear_interpolation"}


def test_a_young_gap_is_noted_but_not_estimated_until_the_reacquisition_wait_passed() -> None:
    values = [0.3, None, 0.3, 0.3]
    now = MONDAY + 4 * STEP + 60  # the gap is 46 minutes old; the wait is 4 h
    result = validate([intervals(values)], now=now, contexts={1: context()})
    [gap] = rules(result, "interval.missing")
    assert gap.action is Action.NOTE
    assert len(result.validated[0]) == 3


def test_off_grid_clock_and_duplicate_readings() -> None:
    t = [MONDAY + STEP * i for i in range(1, 9)]
    stamps = [t[0], t[1] + 30, t[2], t[3] - 420, t[4], t[4], t[5], t[6], t[7]]
    values = [0.2, 0.21, 0.22, 0.9, 0.24, 0.5, 0.25, 0.26, 0.27]
    batch = Batch(SeriesKey(1, KWH), ReadingKind.INTERVAL, stamps, values, [""] * 9, MONDAY, t[7])
    result = validate([batch], now=NOW, contexts={1: context()})
    assert rules(result, "interval.clock")[0].timestamps == (t[1],)  # 30 s late: snapped
    assert rules(result, "interval.off_grid")[0].timestamps == (t[3] - 420,)  # 7 min off
    assert rules(result, "interval.duplicate")[0].timestamps == (t[4],)
    assert rules(result, "interval.missing")[0].timestamps == (t[3],)  # the off-grid slot
    got = dict(zip(result.validated[0].timestamps, result.validated[0].values, strict=True))
    assert got[t[4]] == 0.24  # the first of the duplicates is kept
    assert round(got[t[3]], 6) == 0.23  # linear between 0.22 and 0.24


def test_future_and_old_dates() -> None:
    batch = intervals([0.2] * 4, start=NOW + 600, period=False)
    old = intervals([0.2] * 2, start=NOW - 100 * 86_400, period=False, meter=2)
    result = validate([batch, old], now=NOW)
    assert len(rules(result, "time.future")[0].timestamps) == 4
    assert len(rules(result, "time.old")[0].timestamps) == 2
