"""Which validated value stands: a measured value against VEE's estimate of its gap."""

from __future__ import annotations

from cimhub.vee.precedence import gap_estimate, late_reading, measured, measured_stands

GAP = "3.8.0 3.5.259"  # estimated, known missing
SPIKE_ESTIMATE = "3.8.0 3.5.258"  # a reading that failed a rule, estimated
VALID, FLAGGED, EDITED = "3.0.1", "3.6.1", "3.7.0"


def test_only_vee_estimates_of_missing_intervals_are_gap_estimates() -> None:
    assert gap_estimate(GAP, "")
    assert not gap_estimate(SPIKE_ESTIMATE, "")  # the reading was there
    assert not gap_estimate(GAP, "op-17")  # a user's value


def test_measured_values_are_readings_vee_kept_flagged_or_not() -> None:
    assert measured(VALID, "") and measured(FLAGGED, "")
    assert not measured(GAP, "") and not measured(SPIKE_ESTIMATE, "")
    assert not measured(EDITED, "op-17")


def test_a_measured_value_stands_against_a_gap_estimate_and_replaces_one_late() -> None:
    assert measured_stands(VALID, "", GAP, "")
    assert not measured_stands(VALID, "", SPIKE_ESTIMATE, "")  # a re-run may estimate it
    assert not measured_stands(GAP, "", VALID, "")
    assert late_reading(GAP, "", FLAGGED, "")
    assert not late_reading(SPIKE_ESTIMATE, "", VALID, "")  # judged again, not late
    assert not late_reading(GAP, "", EDITED, "op-17")
