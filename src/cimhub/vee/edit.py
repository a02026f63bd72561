"""Editing validated data: manual edits and bulk corrections, always with who and why.

An edit never touches raw data. It becomes a new version of the validated reading with
quality ``3.7.0`` (edited), method ``edited``, the user id and the reason; VEE re-runs
never overwrite it. Edits arrive through REST or as a CIM MeterReadings ``change``
(Header/User/UserID = the user, Header/Comment = the reason) — unlike ``changed``, which
is a head-end re-sending corrected raw data (that goes to the raw layer and through VEE).
"""

from __future__ import annotations

from dataclasses import dataclass

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
