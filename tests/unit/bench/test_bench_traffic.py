"""The benchmark's traffic is dated like live data: inside VEE's age limit, never ahead."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

from cimhub.bench import traffic
from cimhub.bench.local_days import local_start
from cimhub.vee.config import Params


def test_last_month_doctests() -> None:
    assert doctest.testmod(traffic).failed == 0


def test_a_month_of_traffic_is_neither_too_old_for_vee_nor_in_the_future() -> None:
    now = datetime.now(UTC)
    assert now - timedelta(days=Params().max_age_days) < traffic.START
    assert traffic.START + timedelta(days=28) <= now  # four weeks of timed days, all past


def test_local_days_begin_at_midnight_in_india() -> None:
    start = local_start(datetime(2026, 11, 1, tzinfo=UTC))
    assert start == datetime(2026, 10, 31, 18, 30, tzinfo=UTC)
    day = traffic.traffic(2, 2, 2 * 96, start=start)
    assert b"<timeStamp>2026-10-31T18:45:00Z</timeStamp>" in day.warmup[0]  # its first interval end
