"""Monthly partition bounds: calendar months in UTC, half-open [start, end)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from cimhub.store.partitions import is_partition, months


def epoch(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())


def test_one_month_when_first_and_last_share_it() -> None:
    assert list(months(epoch(2024, 3, 5), epoch(2024, 3, 31, 23, 59))) == [
        ("interval_reading_y2024m03", epoch(2024, 3, 1), epoch(2024, 4, 1)),
    ]


def test_a_timestamp_on_the_boundary_belongs_to_the_next_month() -> None:
    names = [name for name, _, _ in months(epoch(2024, 1, 31, 23, 45), epoch(2024, 2, 1))]
    assert names == ["interval_reading_y2024m01", "interval_reading_y2024m02"]


def test_december_rolls_into_january_of_the_next_year() -> None:
    got = list(months(epoch(2023, 12, 31), epoch(2024, 1, 1, 0, 15)))
    assert got == [
        ("interval_reading_y2023m12", epoch(2023, 12, 1), epoch(2024, 1, 1)),
        ("interval_reading_y2024m01", epoch(2024, 1, 1), epoch(2024, 2, 1)),
    ]


def test_months_are_contiguous_over_a_leap_year() -> None:
    got = list(months(epoch(2024, 1, 1), epoch(2024, 12, 31)))
    assert len(got) == 12
    assert all(a[2] == b[1] for a, b in itertools.pairwise(got))
    assert got[1][2] - got[1][1] == 29 * 86_400  # February 2024


def test_partition_names_are_recognised() -> None:
    assert is_partition("interval_reading_y2024m02")
    assert not is_partition("interval_reading")
    assert not is_partition("interval_reading_version")
    assert not is_partition(None)
