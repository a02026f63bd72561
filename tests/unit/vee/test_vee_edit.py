"""Editing by hand: bulk corrections of a series and a person's review of a finding."""

from __future__ import annotations

import doctest
import importlib

import pytest

from cimhub.vee.edit import EditRefused, Operation, corrected
from cimhub.vee.finding import Review, ReviewRefused, review_move

STAMPS = [900, 1800, 2700]


def test_scale_and_replace_apply_to_every_reading_of_the_period() -> None:
    assert corrected(Operation.SCALE, STAMPS, [0.2, 0.4, 0.0], factor=10.0) == [2.0, 4.0, 0.0]
    assert corrected(Operation.REPLACE, STAMPS, [0.2, 0.4, 0.0], value=0.0) == [0.0] * 3


def test_interpolation_follows_time_between_the_neighbours() -> None:
    # register reads at uneven times: the line is in time, not in index
    got = corrected(
        Operation.INTERPOLATE, [1000, 4000], [0, 0], left=(0, 100.0), right=(5000, 150.0)
    )
    assert got == [110.0, 140.0]


@pytest.mark.parametrize(
    ("operation", "options"),
    [
        (Operation.SCALE, {}),
        (Operation.REPLACE, {}),
        (Operation.INTERPOLATE, {"left": (0, 1.0)}),
        (Operation.REVALIDATE, {}),
    ],
)
def test_a_correction_without_what_it_needs_is_refused(operation: Operation, options: dict) -> None:
    with pytest.raises(EditRefused):
        corrected(operation, STAMPS, [1.0, 1.0, 1.0], **options)


def test_review_moves() -> None:
    assert review_move(Review.NEW, Review.ACKNOWLEDGED) is Review.ACKNOWLEDGED
    assert review_move(Review.ACKNOWLEDGED, Review.CLOSED) is Review.CLOSED
    assert review_move(Review.CLOSED, Review.ACKNOWLEDGED) is Review.ACKNOWLEDGED  # re-opened
    for current, target in ((Review.CLOSED, Review.CLOSED), (Review.ACKNOWLEDGED, Review.NEW)):
        with pytest.raises(ReviewRefused):
            review_move(current, target)


@pytest.mark.parametrize("module", ["edit", "finding", "config"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"cimhub.vee.{module}"))
    assert result.failed == 0 and result.attempted > 0
