"""Meter readings as columnar series: the shape the hot path, VEE and the store share."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ReadingKind(StrEnum):
    """Interval (delta per period, from IntervalBlocks) or register (cumulative, TOU, MD)."""

    INTERVAL = "interval"
    REGISTER = "register"


@dataclass(frozen=True, slots=True)
class MeterRef:
    """How a message names a meter: by mRID, by names (serial numbers), or both."""

    mrid: str | None = None
    names: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A stable label for replies and logs."""
        return self.mrid or (self.names[0] if self.names else "")


@dataclass(slots=True)
class Series:
    """Readings of one meter and one reading type, in parallel columns.

    ``timestamps`` are UTC epoch seconds; ``qualities`` holds IEC 61968-9
    ReadingQuality codes joined by spaces ('' when the sender gave none).
    """

    meter: MeterRef
    reading_type: str
    kind: ReadingKind
    timestamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    qualities: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.timestamps)


@dataclass(frozen=True, slots=True)
class SaveCounts:
    """What storing a batch did: new readings, identical re-sends, and changed values."""

    inserted: int = 0
    unchanged: int = 0
    changed: int = 0

    def __add__(self, other: SaveCounts) -> SaveCounts:
        return SaveCounts(
            self.inserted + other.inserted,
            self.unchanged + other.unchanged,
            self.changed + other.changed,
        )


def merge_series(series: list[Series]) -> tuple[list[Series], list[tuple[str, int]]]:
    """Join one meter's series per (reading type, kind); drop exact repeats.

    Returns the merged series and the (reading type, timestamp) pairs that arrived
    twice with different values or qualities — the sender must say which is right.
    """
    groups: dict[tuple[str, ReadingKind], list[Series]] = {}
    for s in series:
        groups.setdefault((s.reading_type, s.kind), []).append(s)
    merged, conflicts = [], []
    for (code, kind), parts in groups.items():
        first = parts[0]
        out = Series(
            first.meter,
            code,
            kind,
            [t for p in parts for t in p.timestamps],
            [v for p in parts for v in p.values],
            [q for p in parts for q in p.qualities],
        )
        if len(set(out.timestamps)) != len(out.timestamps):
            out, clashes = _dedupe(out)
            conflicts.extend((code, ts) for ts in clashes)
        merged.append(out)
    return merged, conflicts


def _dedupe(series: Series) -> tuple[Series, list[int]]:
    seen: dict[int, tuple[float, str]] = {}
    clashes = []
    for ts, value, quality in zip(series.timestamps, series.values, series.qualities, strict=True):
        if ts in seen and seen[ts] != (value, quality):
            clashes.append(ts)
        seen.setdefault(ts, (value, quality))
    out = Series(
        series.meter,
        series.reading_type,
        series.kind,
        list(seen),
        [v for v, _ in seen.values()],
        [q for _, q in seen.values()],
    )
    return out, clashes
