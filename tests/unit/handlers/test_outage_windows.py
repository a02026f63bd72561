"""Which local days are validated again when a meter's outages change."""

from __future__ import annotations

import doctest

from cimhub.handlers import outage_vee
from cimhub.handlers.outage_vee import windows

IST = 330 * 60
#: 2024-06-03 00:00 IST
MONDAY = 1_717_353_000
H = 3600


def test_changed_spans_become_whole_local_days_merged_and_shared() -> None:
    changed = {
        1: [(MONDAY + 9 * H, MONDAY + 14 * H)],  # Monday 09:00–14:00 IST: Monday
        2: [(MONDAY + 9 * H, MONDAY + 14 * H)],  # same window: re-judged together
        3: [(MONDAY - H, MONDAY + H)],  # across midnight: Sunday and Monday
        4: [(MONDAY + 23 * H, None)],  # still open: up to the day of "now" (Wednesday)
    }
    day = 86_400
    now = MONDAY + 2 * day + 5 * H
    assert windows(changed, IST, now) == {
        (MONDAY, MONDAY + day): [1, 2],
        (MONDAY - day, MONDAY + day): [3],
        (MONDAY, MONDAY + 3 * day): [4],
    }


def test_doctests() -> None:
    result = doctest.testmod(outage_vee)
    assert result.failed == 0 and result.attempted > 0
