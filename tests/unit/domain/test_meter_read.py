"""Reads the hub asks of head-ends: when data is stale, which period, sharing, retries."""

from __future__ import annotations

import doctest

import pytest

from cimhub.domain import meter_read
from cimhub.domain.meter_read import (
    DAY,
    Move,
    Period,
    ReadPolicy,
    RereadPolicy,
    next_move,
    on_demand_period,
)

NOW = 1_718_443_800  # 2024-06-15 09:30 UTC
HOUR = 3600
STALE = ReadPolicy(stale_after=HOUR)


def test_the_doctests_hold() -> None:
    assert doctest.testmod(meter_read).failed == 0


def period(latest: int | None, start: int | None = None, end: int | None = None,
           asked: bool | None = None, policy: ReadPolicy = STALE) -> Period | None:  # fmt: skip
    return on_demand_period(policy, latest=latest, start=start, end=end, now=NOW, asked=asked)


def test_stale_data_is_read_from_the_newest_reading_up_to_now() -> None:
    assert period(NOW - 2 * HOUR) == Period(NOW - 2 * HOUR, NOW)
    assert period(NOW - HOUR + 1) is None  # fresh: younger than the threshold


def test_a_meter_without_readings_is_read_for_the_last_day_or_the_period_asked() -> None:
    assert period(None) == Period(NOW - DAY, NOW)
    assert period(None, start=NOW - 6 * HOUR) == Period(NOW - 6 * HOUR, NOW)


def test_a_past_period_is_read_only_where_the_data_stops_short_of_its_end() -> None:
    end = NOW - DAY
    assert period(end, start=end - DAY, end=end) is None  # complete up to its end
    assert period(end - 3 * HOUR, start=end - DAY, end=end) == Period(end - 3 * HOUR, end)
    assert period(end - 3 * HOUR, start=end - HOUR, end=end) == Period(end - HOUR, end)


def test_nothing_beyond_the_meters_memory_or_in_the_future_is_asked() -> None:
    policy = ReadPolicy(stale_after=HOUR, memory=10 * DAY)
    assert period(None, start=NOW - 40 * DAY, end=NOW - 20 * DAY, policy=policy) is None
    assert period(None, start=NOW - 40 * DAY, policy=policy) == Period(NOW - 10 * DAY, NOW)
    assert period(NOW - 2 * HOUR, end=NOW + DAY) == Period(NOW - 2 * HOUR, NOW)


def test_the_option_decides_over_the_threshold() -> None:
    fresh, off = NOW - 60, ReadPolicy(stale_after=0)
    assert period(fresh, asked=True, policy=off) == Period(fresh, NOW)
    assert period(fresh, start=NOW - HOUR, asked=True) == Period(NOW - HOUR, NOW)
    assert period(NOW - DAY, asked=False) is None
    assert period(NOW - DAY, policy=off) is None  # no threshold, no option: never


@pytest.mark.parametrize(
    ("open_read", "wanted", "shared"),
    [
        (Period(100, 1000), Period(100, 1000), True),
        (Period(100, 1000), Period(200, 1800), True),  # newer by less than the slack
        (Period(100, 1000), Period(200, 1901), False),
        (Period(100, 1000), Period(50, 1000), False),  # starts earlier: not covered
    ],
)
def test_an_open_read_is_shared_when_it_covers_the_period(
    open_read: Period, wanted: Period, shared: bool
) -> None:
    assert open_read.covers(wanted, ReadPolicy(stale_after=0).slack) is shared


def test_readings_fill_a_period_when_one_lies_within_a_block_of_its_end() -> None:
    gap = Period(9000, 18_000)
    assert gap.filled_by([18_000], 900)
    assert not gap.filled_by([27_000, 36_000], 900)  # live data later: not the gap's
    assert gap.filled_by([17_500], 0) and not gap.filled_by([17_000], 0)  # a register read
    assert Period(0, 7000).filled_by([5400], 1800)  # the last whole 30-minute block


def test_a_gap_is_asked_again_after_a_doubling_wait_then_given_up() -> None:
    policy = RereadPolicy(max_attempts=3, retry_after=HOUR)

    def move(attempts: int, answered: bool, after: int) -> Move:
        return next_move(policy, attempts=attempts, asked_at=NOW, answered=answered,
                         now=NOW + after)  # fmt: skip

    assert next_move(policy, attempts=0, asked_at=0, answered=True, now=NOW) is Move.ASK
    assert move(1, False, 10 * HOUR) is Move.WAIT  # the read is not over
    assert [move(1, True, HOUR - 1), move(1, True, HOUR)] == [Move.WAIT, Move.ASK]
    assert [move(2, True, 2 * HOUR - 1), move(2, True, 2 * HOUR)] == [Move.WAIT, Move.ASK]
    assert move(3, True, 100 * HOUR) is Move.GIVE_UP
    none = RereadPolicy(max_attempts=0)
    assert next_move(none, attempts=0, asked_at=0, answered=True, now=NOW) is Move.GIVE_UP


def test_a_silent_meter_is_read_from_its_newest_reading_to_now_within_its_memory() -> None:
    from cimhub.domain.meter_read import silent_period

    wait, memory = 4 * HOUR, 45 * DAY
    newest = NOW - 5 * HOUR
    assert silent_period(newest, 900, NOW, wait=wait, memory=memory) == Period(newest, NOW)
    assert silent_period(newest, 1800, NOW + 900, wait=wait, memory=memory) == Period(newest, NOW)
    assert silent_period(NOW - 3 * HOUR, 900, NOW, wait=wait, memory=memory) is None  # in time
    assert silent_period(NOW - wait, 900, NOW, wait=wait, memory=memory) == Period(NOW - wait, NOW)
    assert silent_period(NOW - memory, 900, NOW, wait=wait, memory=memory) is None  # forgotten


def test_a_tenant_s_staleness_threshold_overrides_the_hub_s() -> None:
    from cimhub.domain.tenant import Tenant

    assert Tenant(1, "a", "A").stale_minutes(60) == 60
    assert Tenant(1, "a", "A", on_demand_stale_minutes=15).stale_minutes(60) == 15
    assert Tenant(1, "a", "A", on_demand_stale_minutes=0).stale_minutes(60) == 0  # off for it
