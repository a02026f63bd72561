"""Tamper and outage determinants of one usage point over one billing period (issue #7
item 2), from its meters' events and outages within their installation windows.

* A tamper event is one of the CIM tamper EndDeviceEventTypes (reference/cim.md §4,
  security domain 12): cover opened/removed, generic and magnetic tamper, reverse rotation;
  or an event stored unmapped (no CIM code) whose IS 15959 event ID is a tamper occurrence
  (india-metering.md §2: current reverse, CT open, CT bypass, magnetic influence, neutral
  disturbance, cover open; restorations do not count). It counts when it happened in
  [start, end) while its meter was installed at the point.
* Outages of all the point's meters are clipped to their installation windows and to the
  period, then merged (a main and a check meter losing supply together is one outage).
  The count is the merged outages that begin in the period (one carried over from the last
  period is not counted again, but its minutes in this period are); an outage not yet
  restored runs until ``now`` (or the period's end). Minutes are rounded to the nearest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: The tamper EndDeviceEventTypes (IEC 61968-9, reference/cim.md §4).
TAMPER_TYPES = frozenset({"3.12.29.39", "3.12.29.212", "3.12.0.257", "3.12.66.257", "3.12.93.219"})
#: IS 15959 tamper occurrence IDs, for events the head-end did not map to a CIM code.
IS15959_TAMPER = frozenset({"51", "53", "55", "57", "59", "61", "65", "201", "203", "251"})


def is_tamper(event_type: str, mapped: bool, vendor_code: str | None) -> bool:
    """A CIM tamper type, or an unmapped event with an IS 15959 tamper occurrence ID.

    >>> is_tamper("3.12.66.257", True, "201"), is_tamper("EVT", False, "201")
    (True, True)
    >>> is_tamper("EVT", False, "202"), is_tamper("3.26.0.85", True, "201")
    (False, False)
    """
    if mapped:
        return event_type in TAMPER_TYPES
    return vendor_code in IS15959_TAMPER


@dataclass(frozen=True, slots=True)
class Window:
    """A meter's stay at the usage point: [start, end), end None while installed."""

    meter_id: int
    start: int
    end: int | None = None

    def holds(self, ts: int) -> bool:
        return self.start <= ts and (self.end is None or ts < self.end)


@dataclass(frozen=True, slots=True)
class EventFigures:
    tamper_events: int = 0
    outages: int = 0
    outage_minutes: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "tamper_events": self.tamper_events,
            "outages": self.outages,
            "outage_minutes": self.outage_minutes,
        }


def tamper_count(
    events: Iterable[tuple[int, int]], windows: Sequence[Window], start: int, end: int
) -> int:
    """Tamper events (meter id, ts) in [start, end) while their meter was installed.

    >>> w = [Window(1, 0, 100), Window(2, 100)]
    >>> tamper_count([(1, 50), (1, 150), (2, 150), (2, 400)], w, 0, 300)
    2
    """
    return sum(
        1
        for meter_id, ts in events
        if start <= ts < end and any(w.meter_id == meter_id and w.holds(ts) for w in windows)
    )


def outage_figures(
    outages: Iterable[tuple[int, int, int | None]],
    windows: Sequence[Window],
    start: int,
    end: int,
    now: int,
) -> tuple[int, int]:
    """(count, minutes) of outages (meter id, start, end or None) over the period.

    >>> w = [Window(1, 0), Window(2, 0)]
    >>> outage_figures([(1, 600, 1800), (2, 900, 2400), (1, -600, 300), (1, 3000, None)],
    ...                w, 0, 3600, 3300)
    (2, 40)
    """
    spans = []
    for meter_id, s, e in outages:
        stop = min(end, now) if e is None else e
        for w in windows:
            if w.meter_id != meter_id:
                continue
            lo, hi = max(s, w.start, start), min(stop, end, w.end if w.end is not None else end)
            if lo < hi:
                spans.append((lo, hi, s >= start and w.holds(s)))
    count, seconds = 0, 0
    for lo, hi, begins in _merge(spans):
        count += begins
        seconds += hi - lo
    return count, (seconds + 30) // 60


def _merge(spans: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """Union of spans; a merged span begins in the period if its first part does."""
    out: list[tuple[int, int, bool]] = []
    for lo, hi, begins in sorted(spans):
        if out and lo <= out[-1][1]:
            first_lo, first_hi, first_begins = out[-1]
            out[-1] = (first_lo, max(first_hi, hi), first_begins or (lo == first_lo and begins))
        else:
            out.append((lo, hi, begins))
    return out
