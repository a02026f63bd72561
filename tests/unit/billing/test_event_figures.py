"""Tamper and outage figures by hand: clipping to installation windows and the period,
one outage seen by two meters of a point, an open outage, an outage carried over."""

from __future__ import annotations

from cimhub.billing.event_figures import Window, outage_figures, tamper_count

H = 3600
PERIOD = (0, 30 * 24 * H)


def test_an_outage_seen_by_the_main_and_the_check_meter_counts_once() -> None:
    windows = [Window(1, -H), Window(2, -H)]
    outages = [(1, 10 * H, 11 * H), (2, 10 * H + 600, 11 * H + 600)]  # 60 + 10 minutes
    assert outage_figures(outages, windows, *PERIOD, now=PERIOD[1]) == (1, 70)


def test_an_outage_is_clipped_at_the_meter_removal_and_the_new_meter_s_own_counts() -> None:
    windows = [Window(1, -H, 5 * H), Window(2, 5 * H)]
    outages = [(1, 4 * H, 7 * H), (2, 6 * H, 6 * H + 900)]  # M1 off 04–07, removed at 05
    assert outage_figures(outages, windows, *PERIOD, now=PERIOD[1]) == (2, 75)


def test_an_open_outage_runs_until_now_and_a_carried_one_is_not_counted_again() -> None:
    windows = [Window(1, -100 * H)]
    outages = [(1, -2 * H, H), (1, 20 * H, None)]
    assert outage_figures(outages, windows, *PERIOD, now=20 * H + 1800) == (1, 90)


def test_tampers_count_only_while_the_meter_is_installed_and_in_the_period() -> None:
    windows = [Window(1, -H, 5 * H), Window(2, 5 * H)]
    events = [(1, 4 * H), (1, 6 * H), (2, 6 * H), (2, PERIOD[1]), (2, -1)]
    assert tamper_count(events, windows, *PERIOD) == 2
