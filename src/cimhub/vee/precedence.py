"""Which validated value stands when VEE's new verdict on an interval meets the current one.

A measured value stands against VEE's estimate of a gap: such an estimate comes from a
run that did not see the reading (it validated a neighbouring period while the reading
was being stored), never from the reading being gone. The other way round, a measured
value replaces the estimate of its gap as a new version: the reading came late, and the
version's reason says so. Users' edits are ruled on elsewhere (``keep_edits``).
"""

from __future__ import annotations

from cimhub.vee import quality

#: The reason of the version a late reading makes over the estimate of its gap.
LATE_READING = "late reading"


def gap_estimate(codes: str, user_id: str) -> bool:
    """VEE's estimate of an interval that never arrived (3.8.0 with 3.5.259)."""
    found = codes.split()
    return not user_id and quality.ESTIMATED in found and quality.MISSING in found


def measured(codes: str, user_id: str) -> bool:
    """A value VEE took from a reading (flagged or not): not estimated, edited, missing."""
    return not user_id and quality.NOT_MEASURED.isdisjoint(codes.split())


def measured_stands(old_codes: str, old_user: str, new_codes: str, new_user: str) -> bool:
    """Whether the current value stays although VEE's new verdict differs."""
    return measured(old_codes, old_user) and gap_estimate(new_codes, new_user)


def late_reading(old_codes: str, old_user: str, new_codes: str, new_user: str) -> bool:
    """Whether the new value is a reading arriving after its gap was estimated."""
    return gap_estimate(old_codes, old_user) and measured(new_codes, new_user)
