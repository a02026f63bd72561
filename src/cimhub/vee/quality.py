"""IEC 61968-9 ReadingQuality codes (``system.category.index``) that VEE writes.

System 3 is the MDM (us). The codes are the standard's (reference/cim.md §5) but for our
extensions (index ≥ 1000, the standard's room for them), listed here:

* ``3.7.1000`` edited — time aligned: a measured value whose stamp, off the grid by a
  drifting meter clock, the MDM moved to the interval end it belongs to. The value itself
  is the meter's (it is no "not measured" code); the category says the MDM changed the
  reading (its time), so a reader that knows only the standard's codes sees an edit.
"""

from __future__ import annotations

VALIDATED = "3.0.1"  #: passed every rule
CLOCK_ERROR = "3.1.9"  #: timestamp off the interval grid (within tolerance) or future/old
OVERFLOW = "3.4.1"  #: register rolled over at its dial limit
RESET = "3.4.8"  #: register reset (TOU to zero, demand off cycle)
STATIC = "3.3.5"  #: static (flat-line) data
OUTSIDE_RANGE = "3.5.256"  #: impossible value: negative, decrement, beyond the dials
SUSPECT = "3.5.258"  #: suspect: failed a plausibility rule
MISSING = "3.5.259"  #: known missing read
ZERO_USAGE = "3.6.1"
INACTIVE_USAGE = "3.6.2"
ABOVE_MAXIMUM = "3.6.3"
ABOVE_PERCENT = "3.6.5"
BELOW_PERCENT = "3.6.6"
TOU_SUM = "3.6.9"
EDITED = "3.7.0"
TIME_ALIGNED = "3.7.1000"  #: our extension: stamp of a drifting clock moved to the grid
ESTIMATED = "3.8.0"

#: Codes meaning "this value was made by the MDM, not measured": never a like-day reference.
NOT_MEASURED = frozenset({ESTIMATED, EDITED, MISSING})


def join(codes: list[str] | tuple[str, ...] | set[str]) -> str:
    """Space-separated, de-duplicated, in a stable order (the store's quality format).

    >>> join(["3.6.1", "3.8.0", "3.6.1"])
    '3.8.0 3.6.1'
    """
    unique = set(codes)
    head = [c for c in (ESTIMATED, EDITED) if c in unique]
    return " ".join(head + sorted(unique - set(head)))


def has(quality: str, code: str) -> bool:
    return code in quality.split()
