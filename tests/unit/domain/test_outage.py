"""Outage derivation: pairing, repeats, orphans, the threshold's edge; what changed."""

from __future__ import annotations

import doctest

from cimhub.domain import outage as outage_module
from cimhub.domain.event import POWER_OFF, POWER_ON
from cimhub.domain.outage import Outage, OutageKind, changed_spans, derive_outages


def test_pairs_in_time_order_whatever_the_arrival_order() -> None:
    events = [(400, POWER_ON), (100, POWER_OFF), (1000, POWER_OFF), (1300, POWER_ON)]
    assert derive_outages(events) == [
        Outage(100, 400, OutageKind.SUSTAINED),  # 300 s: not below the 5-minute threshold
        Outage(1000, 1300, OutageKind.SUSTAINED),
    ]


def test_threshold_edge_and_custom_threshold() -> None:
    assert derive_outages([(0, POWER_OFF), (299, POWER_ON)])[0].kind is OutageKind.MOMENTARY
    assert derive_outages([(0, POWER_OFF), (300, POWER_ON)])[0].kind is OutageKind.SUSTAINED
    assert derive_outages([(0, POWER_OFF), (90, POWER_ON)], 60)[0].kind is OutageKind.SUSTAINED


def test_repeated_power_off_and_orphan_restore() -> None:
    events = [(0, POWER_ON), (10, POWER_OFF), (20, POWER_OFF), (50, POWER_ON), (60, "3.12.29.39")]
    assert derive_outages(events) == [Outage(10, 50, OutageKind.MOMENTARY)]


def test_an_outage_without_restore_stays_open() -> None:
    (outage,) = derive_outages([(10, POWER_OFF)])
    assert (outage.kind, outage.end, outage.duration) == (OutageKind.OPEN, None, None)


def test_changed_spans_are_where_two_derivations_disagree_merged() -> None:
    s = OutageKind.SUSTAINED
    before = [Outage(100, 400, s), Outage(1000, 1300, s)]
    # the first outage got a later restore; a new one overlaps the old second; one opens
    after = [Outage(100, 700, s), Outage(1200, 1500, s), Outage(5000, None, OutageKind.OPEN)]
    # (100,400)+(100,700) → (100,700); (1000,1300)+(1200,1500) → (1000,1500); (5000, open)
    assert changed_spans(before, after) == [(100, 700), (1000, 1500), (5000, None)]
    assert changed_spans(after, after) == []
    assert changed_spans([], [Outage(10, None, OutageKind.OPEN)]) == [(10, None)]


def test_doctests() -> None:
    result = doctest.testmod(outage_module)
    assert result.failed == 0 and result.attempted >= 3
