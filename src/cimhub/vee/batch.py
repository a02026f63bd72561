"""A batch: the readings of one series VEE looks at, and the scope a rule sees it in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from cimhub.domain.reading import ReadingKind
from cimhub.domain.reading_type import ReadingType, parse_reading_type
from cimhub.vee.config import Params
from cimhub.vee.context import MeterContext, SeriesHistory
from cimhub.vee.drift import drifting_after, limits
from cimhub.vee.finding import SeriesKey

DAY = 86_400


@dataclass(frozen=True, slots=True)
class Batch:
    """Raw readings of one (meter, reading type), sorted by timestamp.

    ``start``/``end`` bound the period (start, end] VEE answers for; None lets the engine
    take it from the previous reading and the last timestamp.
    """

    key: SeriesKey
    kind: ReadingKind
    timestamps: Sequence[int]
    values: Sequence[float]
    qualities: Sequence[str] = ()
    start: int | None = None
    end: int | None = None

    @property
    def reading_type(self) -> ReadingType:
        return _decoded(self.key.reading_type)

    @property
    def interval(self) -> int:
        return self.reading_type.interval_seconds if self.kind is ReadingKind.INTERVAL else 0


_TYPES: dict[str, ReadingType] = {}


def _decoded(code: str) -> ReadingType:
    found = _TYPES.get(code)
    if found is None:
        found = _TYPES[code] = parse_reading_type(code)
    return found


@dataclass(frozen=True, slots=True)
class Grid:
    """An interval batch laid on its expected grid: one slot per expected interval end."""

    timestamps: list[int]  #: expected interval ends over (start, end]
    values: list[float | None]  #: None where nothing arrived
    raw_index: list[int | None]  #: index into the batch of the reading in each slot
    off_grid: list[int] = field(default_factory=list)  #: batch indexes beyond tolerance
    snapped: list[int] = field(default_factory=list)  #: batch indexes snapped within tolerance
    duplicates: list[int] = field(default_factory=list)  #: batch indexes of repeated slots
    #: batch indexes beyond tolerance aligned to the grid: a drifting clock (``vee.drift``)
    drifted: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Scope:
    """Everything one rule may look at for one batch."""

    batch: Batch
    params: Params
    context: MeterContext
    history: SeriesHistory
    siblings: Mapping[str, Batch]  #: the meter's other batches in this run, by ReadingType
    now: int

    @cached_property
    def grid(self) -> Grid:
        return lay_on_grid(self.batch, self.history, self.params)

    def in_outage(self, ts: int) -> bool:
        """Whether the interval ending at ts overlaps a known outage."""
        return _overlaps(self.context.outages, ts - self.batch.interval, ts)

    def outages_known(self, ts: int) -> bool:
        """Whether the outages of the interval ending at ts are known: no outage there
        then means the supply was on."""
        since = self.context.outages_since
        known = self.context.outages is not None
        return known and (since is None or ts - self.batch.interval >= since)

    def disconnected(self, ts: int, *, wholly: bool = False) -> bool:
        """Whether the interval ending at ts overlaps (``wholly``: lies inside) a period
        the meter's relay was open."""
        spans, start = self.context.disconnected, ts - self.batch.interval
        if wholly:
            return any(a <= start and ts <= b for a, b in spans or ())
        return _overlaps(spans, start, ts)

    def local_day(self, ts: int) -> int:
        """The tenant's local day an interval ending at ts belongs to."""
        return (ts - max(self.batch.interval, 1) + self.params.utc_offset_minutes * 60) // DAY

    def by_local_day(self, stamps: Sequence[int]) -> dict[int, list[int]]:
        """``stamps`` grouped by ``local_day``, each day's in their order."""
        shift = self.params.utc_offset_minutes * 60 - max(self.batch.interval, 1)
        out: dict[int, list[int]] = {}
        for ts in stamps:
            out.setdefault((ts + shift) // DAY, []).append(ts)
        return out


def _overlaps(spans: Sequence[tuple[int, int]] | None, start: int, end: int) -> bool:
    """Whether (start, end] overlaps one of the (a, b] spans."""
    return bool(spans) and any(a < end and start < b for a, b in spans or ())


def lay_on_grid(batch: Batch, history: SeriesHistory, params: Params) -> Grid:
    step = batch.interval
    shift = grid_shift(step, params)
    stamps = batch.timestamps
    if not stamps and batch.start is None:
        return Grid([], [], [])
    end = batch.end if batch.end is not None else snap(stamps[-1], step, shift)
    start = batch.start
    if start is None:
        first = snap(stamps[0], step, shift)
        prev = history.previous.ts if history.previous else None
        limit = first - params.like_day_lookback_days * DAY
        start = prev if prev is not None and limit <= prev < first else first - step
    start -= (start + shift) % step
    grid_ts = list(range(start + step, end + 1, step))
    exact = _exactly_on_grid(stamps, step, shift, start, end)
    if exact is not None:
        return _laid(batch, grid_ts, exact)
    nearest, offsets = _offsets(stamps, step, shift)
    tolerance = params.clock_tolerance_seconds
    beyond = [i for i, offset in enumerate(offsets) if abs(offset) > tolerance]
    drift: set[int] = set()
    if beyond:  # the series' last stamps before the batch may begin a chain it goes on
        known, known_offsets = _offsets(history.stamps, step, shift)
        drift = drifting_after(known, known_offsets, nearest, offsets, limits(step, params))
    off_grid = [i for i in beyond if i not in drift]
    slots, duplicates = _slotted(nearest, set(off_grid), start, end)
    snapped = [i for i, offset in enumerate(offsets) if offset and abs(offset) <= tolerance]
    drifted = [i for i in beyond if i in drift]
    return _laid(batch, grid_ts, slots, off_grid, snapped, duplicates, drifted)


def _offsets(stamps: Sequence[int], step: int, shift: int) -> tuple[list[int], list[int]]:
    """The grid point nearest each stamp, and the stamp's offset from it."""
    nearest = [snap(ts, step, shift) for ts in stamps]
    return nearest, [ts - near for ts, near in zip(stamps, nearest, strict=True)]


def off_the_grid(batch: Batch, params: Params) -> bool:
    """Whether an interval batch has a reading stamped off its grid (the store then
    fetches the series' last stamps for ``vee.drift``)."""
    step, stamps = batch.interval, list(batch.timestamps)
    if not step or not stamps:
        return False
    shift = grid_shift(step, params)
    # a healthy meter's contiguous run is told by one comparison (in C)
    if (stamps[0] + shift) % step == 0 and stamps == list(range(stamps[0], stamps[-1] + 1, step)):
        return False
    return any((ts + shift) % step for ts in stamps)


def _slotted(
    nearest: list[int], left_out: set[int], start: int, end: int
) -> tuple[dict[int, int], list[int]]:
    """Slot → batch index of the first reading placed there inside (start, end]; the
    batch indexes of the repeats."""
    slots: dict[int, int] = {}
    duplicates: list[int] = []
    for i, near in enumerate(nearest):
        if i in left_out:
            continue
        if near in slots:
            duplicates.append(i)
        elif start < near <= end:
            slots[near] = i
    return slots, duplicates


def _exactly_on_grid(
    stamps: Sequence[int], step: int, shift: int, start: int, end: int
) -> dict[int, int] | None:
    """Slot → batch index when every reading is exactly on the grid, once, inside
    (start, end] (what a healthy meter sends); None otherwise (judged reading by reading)."""
    stamps = list(stamps)
    if not step:
        return None
    # a contiguous run of grid points (one comparison in C), else snap each reading
    contiguous = bool(stamps) and (stamps[0] + shift) % step == 0
    if not (contiguous and stamps == list(range(stamps[0], stamps[-1] + 1, step))):
        half = step // 2
        if [(ts + shift + half) // step * step - shift for ts in stamps] != stamps:
            return None
    if stamps and (min(stamps) <= start or max(stamps) > end):
        return None
    slots = dict(zip(stamps, range(len(stamps)), strict=True))
    return slots if len(slots) == len(stamps) else None


def _laid(
    batch: Batch,
    grid_ts: list[int],
    slots: dict[int, int],
    off_grid: list[int] | None = None,
    snapped: list[int] | None = None,
    duplicates: list[int] | None = None,
    drifted: list[int] | None = None,
) -> Grid:
    values = batch.values
    if len(slots) == len(grid_ts) == len(values) and list(slots) == grid_ts:
        raw_index: list[int | None] = list(range(len(grid_ts)))  # every slot, in order
        aligned: list[float | None] = list(values)
    else:
        raw_index = [slots.get(ts) for ts in grid_ts]
        aligned = [None if i is None else values[i] for i in raw_index]
    return Grid(
        grid_ts, aligned, raw_index, off_grid or [], snapped or [], duplicates or [], drifted or []
    )


def grid_shift(step: int, params: Params) -> int:
    """Intervals end on local clock boundaries (hourly reads at 01:00 IST = 19:30 UTC)."""
    return params.utc_offset_minutes * 60 % step if step else 0


def snap(ts: int, step: int, shift: int = 0) -> int:
    """The grid point nearest ts.

    >>> snap(930, 900), snap(1800 + 1790, 3600, 1800)
    (900, 1800)
    """
    return (ts + shift + step // 2) // step * step - shift if step else ts
