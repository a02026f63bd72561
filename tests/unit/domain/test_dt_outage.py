"""DT outages from meter outages: the share, the window, restoration, open outages."""

from __future__ import annotations

import pytest

from cimhub.domain.dt_outage import DtOutage, derive_dt_outages, needed


@pytest.mark.parametrize(("total", "share", "k"), [(10, 0.6, 6), (5, 0.6, 3), (2, 0.5, 1)])
def test_needed_rounds_up(total: int, share: float, k: int) -> None:
    assert needed(total, share) == k


def test_no_meters_no_outage() -> None:
    assert derive_dt_outages({1: [(0, None)]}, 0) == []


def test_restore_below_the_share_ends_it_and_a_second_loss_starts_another() -> None:
    outages = {1: [(0, 100), (500, None)], 2: [(10, 200), (520, None)], 3: []}
    assert derive_dt_outages(outages, 3, 0.6, 60) == [
        DtOutage(0, 100, 2, 3),
        DtOutage(500, None, 2, 3),
    ]


def test_the_worst_moment_is_kept() -> None:
    outages = {m: [(m, 1000)] for m in range(1, 5)}
    assert derive_dt_outages(outages, 4, 0.5, 60) == [DtOutage(1, 1000, 4, 4)]


def test_a_restore_at_the_same_second_as_a_loss_counts_first() -> None:
    assert derive_dt_outages({1: [(0, 50)], 2: [(50, 60)]}, 2, 1.0, 100) == []
