"""Consumption across a meter change is exact: final and initial reads bridge it."""

from __future__ import annotations

import pytest

from cimhub.domain.consumption import Segment, consumption

DAY = 86_400


def test_a_mid_month_replacement_keeps_the_total_exact() -> None:
    start, change, end = 0, 15 * DAY, 30 * DAY
    old = Segment("OLD", -100 * DAY, change, [0, 10 * DAY, change], [1000.0, 1100.0, 1150.5])
    new = Segment("NEW", change, None, [change, 20 * DAY, end], [3.0, 40.0, 103.25])
    result = consumption([old, new], start, end)
    assert result.total == pytest.approx(150.5 + 100.25)
    assert result.parts == [("OLD", pytest.approx(150.5)), ("NEW", pytest.approx(100.25))]
    assert result.missing == []


def test_a_multiplier_scales_the_register() -> None:
    ht = Segment("HT", 0, None, [0, DAY], [10.0, 12.5], multiplier=4000.0)
    assert consumption([ht], 0, DAY).total == pytest.approx(10_000)


def test_a_meter_without_reads_in_the_window_is_named() -> None:
    silent = Segment("SILENT", 0, None, [], [])
    result = consumption([silent], 0, DAY)
    assert (result.total, result.missing) == (0.0, ["SILENT"])


def test_segments_outside_the_window_do_not_count() -> None:
    early = Segment("EARLY", 0, DAY, [0, DAY], [1.0, 2.0])
    assert consumption([early], 2 * DAY, 3 * DAY).total == 0.0
