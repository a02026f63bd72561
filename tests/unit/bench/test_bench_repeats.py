"""A benchmark figure is the median of repeated, interleaved runs, never a single draw."""

from __future__ import annotations

import doctest
from dataclasses import dataclass

import pytest

from cimhub.bench import repeats
from cimhub.bench.report import with_spread


def test_repeats_doctests() -> None:
    assert doctest.testmod(repeats).failed == 0


@dataclass(frozen=True)
class Run:
    rate: float
    stages: str  # stands for the figures that must come from the same run as the rate


def test_the_median_is_a_real_run_whose_other_figures_go_with_its_rate() -> None:
    runs = [Run(70.0, "second"), Run(40.0, "first"), Run(90.0, "third")]
    assert repeats.median(runs, lambda r: r.rate) == Run(70.0, "second")
    # an even number: the slower of the middle two, so a lucky run never sets the figure
    four = [*runs, Run(60.0, "fourth")]
    assert repeats.median(four, lambda r: r.rate) == Run(60.0, "fourth")
    with pytest.raises(ValueError):
        repeats.median([], lambda r: r.rate)


def test_cases_are_interleaved_so_a_slow_stretch_touches_each_case_once() -> None:
    order = list(repeats.interleaved([("pg", 100), ("pg", 1000)], 3))
    assert order == [("pg", 100), ("pg", 1000)] * 3


def test_the_report_shows_the_median_with_the_runs_spread() -> None:
    row = {"e2e": 68_700.0} | repeats.spread("e2e", [56_300.0, 68_700.0, 73_000.0])
    assert with_spread(row, "e2e") == "68.7 k (56.3–73.0)"
    assert with_spread({"e2e": 68_700.0}, "e2e") == "68.7 k"  # one run: nothing to bracket
    assert with_spread({}, "e2e") == "—"
