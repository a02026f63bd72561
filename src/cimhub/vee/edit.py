"""Editing validated data: manual edits and bulk corrections, always with who and why.

An edit never touches raw data. It becomes a new version of the validated reading with
quality ``3.7.0`` (edited), method ``edited``, the user id and the reason; VEE re-runs
never overwrite it. Edits arrive through REST or as a CIM MeterReadings ``change``
(Header/User/UserID = the user, Header/Comment = the reason) — unlike ``changed``, which
is a head-end re-sending corrected raw data (that goes to the raw layer and through VEE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from cimhub.domain.reading import ReadingKind


class EditRefused(ValueError):
    """An edit without a user or a reason, or with a non-finite value."""


@dataclass(frozen=True, slots=True)
class Edit:
    meter_id: int
    reading_type: str
    kind: ReadingKind
    ts: int
    value: float


def check_edit(user_id: str | None, reason: str | None, edits: list[Edit]) -> tuple[str, str]:
    """The (user, reason) of a valid edit request; raises ``EditRefused`` otherwise.

    >>> check_edit("op-17", "meter replaced, reading keyed from the old display", [])
    ('op-17', 'meter replaced, reading keyed from the old display')
    """
    user, why = (user_id or "").strip(), (reason or "").strip()
    if not user:
        raise EditRefused("an edit must name the user who makes it (Header/User/UserID)")
    if not why:
        raise EditRefused("an edit must give its reason (Header/Comment)")
    bad = [e for e in edits if e.value != e.value or e.value in (float("inf"), float("-inf"))]
    if bad:
        raise EditRefused(f"edit value at {bad[0].ts} is not a finite number")
    return user, why


class Operation(StrEnum):
    """A bulk correction of the validated readings of one series over a period."""

    SCALE = "scale"  #: every value × ``factor`` (a wrong CT/PT multiplier, a unit slip)
    REPLACE = "replace"  #: every value := ``value`` (e.g. zero through a known outage)
    INTERPOLATE = "interpolate"  #: a straight line between the readings either side
    REVALIDATE = "revalidate"  #: VEE judges the raw data again; its verdict replaces edits


def corrected(
    operation: Operation,
    stamps: Sequence[int],
    values: Sequence[float],
    *,
    factor: float | None = None,
    value: float | None = None,
    left: tuple[int, float] | None = None,
    right: tuple[int, float] | None = None,
) -> list[float]:
    """The new values of the readings at ``stamps`` (current ``values``); ``left`` and
    ``right`` are the (ts, value) just outside the period, for ``interpolate`` (in time,
    so register reads at uneven times interpolate correctly too).

    >>> corrected(Operation.SCALE, [1, 2], [1.0, 2.5], factor=2.0)
    [2.0, 5.0]
    >>> corrected(Operation.INTERPOLATE, [2, 3, 4], [9.0, 9.0, 9.0], left=(1, 1.0), right=(5, 3.0))
    [1.5, 2.0, 2.5]
    """
    if operation is Operation.SCALE:
        if factor is None:
            raise EditRefused("a scale correction needs a factor")
        return [v * factor for v in values]
    if operation is Operation.REPLACE:
        if value is None:
            raise EditRefused("a replace correction needs a value")
        return [value] * len(stamps)
    if operation is Operation.REVALIDATE:
        raise EditRefused("VEE, not a formula, revalidates (see VeeService.rerun)")
    if left is None or right is None:
        raise EditRefused("interpolation needs a validated reading on each side of the period")
    (t0, v0), (t1, v1) = left, right
    return [v0 + (v1 - v0) * (ts - t0) / (t1 - t0) for ts in stamps]
