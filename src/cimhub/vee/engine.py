"""The VEE engine: run the rules over whole batches, then estimate what failed or is missing.

``validate`` is pure: batches, master-data contexts and history in; findings and the
validated layer (values, ReadingQuality codes, method, responsible rules) out. It runs per
meter, so cross-series rules (sum check, Σ TOU) see the meter's other batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cimhub.domain.reading import ReadingKind
from cimhub.vee import estimation, quality
from cimhub.vee.batch import Batch, Scope
from cimhub.vee.calendar import grid_days
from cimhub.vee.config import DEFAULT, VeeConfig
from cimhub.vee.context import NO_CONTEXT, MeterContext, SeriesHistory
from cimhub.vee.finding import Action, Finding, SeriesKey, Severity
from cimhub.vee.registry import load_rules
from cimhub.vee.rules.meter import register_of, register_pairs
from cimhub.vee.runs import runs

VALIDATED = "validated"
NO_HISTORY = SeriesHistory()


@dataclass(frozen=True, slots=True)
class Validated:
    """The validated layer of one series over the period VEE answered for."""

    key: SeriesKey
    kind: ReadingKind
    timestamps: list[int]
    values: list[float]
    qualities: list[str]
    methods: list[str]  #: "validated" or "estimated:<method>"
    rules: list[str]  #: the rule ids that fired on each value, comma-separated

    def __len__(self) -> int:
        return len(self.timestamps)


@dataclass(frozen=True, slots=True)
class VeeResult:
    findings: list[Finding]
    validated: list[Validated]


def validate(
    batches: Sequence[Batch],
    *,
    now: int,
    contexts: Mapping[int, MeterContext] | None = None,
    history: Mapping[SeriesKey, SeriesHistory] | None = None,
    config: VeeConfig = DEFAULT,
    tenant: str | None = None,
) -> VeeResult:
    """Validate and estimate every batch; see the module docstring."""
    rules = load_rules().values()
    by_meter: dict[int, list[Batch]] = defaultdict(list)
    for batch in batches:
        by_meter[batch.key.meter_id].append(batch)
    findings: list[Finding] = []
    validated: list[Validated] = []
    for meter_id, group in by_meter.items():
        context = (contexts or {}).get(meter_id, NO_CONTEXT)
        params = config.params(tenant, context.meter.meter_type, context.usage_point.category)
        siblings = {b.key.reading_type: b for b in group}
        for batch in group:
            scope = Scope(
                batch, params, context, (history or {}).get(batch.key, NO_HISTORY), siblings, now
            )
            found = [
                f
                for r in rules
                if r.applies(batch) and params.enabled(r.id)
                for f in r.check(scope)
            ]
            findings.extend(found)
            if batch.kind is ReadingKind.INTERVAL and batch.interval:
                validated.append(_intervals(scope, found))
            else:
                validated.append(_registers(scope, found))
    return VeeResult(findings, validated)


@dataclass(slots=True)
class _Marks:
    """Per slot of a series: which findings cover it (a bit each), whether it failed or is
    suspect. Slots covered by the same findings share their quality and rule strings,
    which are built once per distinct combination (a finding often spans a whole day)."""

    found: list[Finding]
    hits: list[int]  #: bit k set: found[k] covers the slot
    failed: list[bool]
    suspect: set[int]
    _qualities: dict[tuple[int, bool, bool, str], str] = field(default_factory=dict)
    _rules: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, found: list[Finding], stamps: Sequence[int]) -> _Marks:
        index = {ts: i for i, ts in enumerate(stamps)}
        marks = cls(found, [0] * len(stamps), [False] * len(stamps), set())
        hits, failed = marks.hits, marks.failed
        for k, f in enumerate(found):
            where = [i for i in map(index.get, f.timestamps) if i is not None]
            bit = 1 << k
            for i in where:
                hits[i] |= bit
            if f.action is Action.ESTIMATE:
                for i in where:
                    failed[i] = True
            if f.severity is not Severity.INFO:
                marks.suspect.update(where)
        return marks

    def quality(self, i: int, estimated: bool, raw: str) -> str:
        key = (self.hits[i], estimated, i in self.suspect, raw)
        found = self._qualities.get(key)
        if found is None:
            found = self._qualities[key] = self._quality(*key)
        return found

    def qualities(self, estimated: list[bool], raws: list[str] | None) -> list[str]:
        """``quality`` of every slot, column-wise (``raws`` None: the sender reported none)."""
        suspect = [False] * len(self.hits)
        for i in self.suspect:
            suspect[i] = True
        raw_column = raws if raws is not None else [""] * len(self.hits)
        keys = list(zip(self.hits, estimated, suspect, raw_column, strict=True))
        memo = self._qualities
        for key in set(keys).difference(memo):
            memo[key] = self._quality(*key)
        return list(map(memo.__getitem__, keys))

    def rules(self) -> list[str]:
        """``rule`` of every slot, column-wise."""
        memo = self._rules
        for hits in set(self.hits).difference(memo):
            memo[hits] = ",".join(sorted({f.rule for f in self._covering(hits)}))
        return list(map(memo.__getitem__, self.hits))

    def _quality(self, hits: int, estimated: bool, suspect: bool, raw: str) -> str:
        codes = {f.quality for f in self._covering(hits)}
        if estimated:
            codes.add(quality.ESTIMATED)
        elif not suspect:
            codes.add(quality.VALIDATED)
        if raw:
            codes.update(raw.split())
        return quality.join(codes)

    def rule(self, i: int) -> str:
        hits = self.hits[i]
        found = self._rules.get(hits)
        if found is None:
            found = self._rules[hits] = ",".join(sorted({f.rule for f in self._covering(hits)}))
        return found

    def _covering(self, hits: int) -> list[Finding]:
        return [f for k, f in enumerate(self.found) if hits >> k & 1]


def _intervals(scope: Scope, found: list[Finding]) -> Validated:
    grid = scope.grid
    marks = _Marks.of(found, grid.timestamps)
    values = list(grid.values)
    methods = [VALIDATED] * len(values)
    filled: list[int] = []
    for run_first, run_last in list(runs(marks.failed)):
        for first, last, off in _by_supply(scope, run_first, run_last):
            if off:  # no supply: nothing was consumed
                fill, method = [0.0] * (last - first + 1), off
            else:
                fill, method = _fill(scope, first, last, marks.failed, values)
            values[first : last + 1] = fill
            methods[first : last + 1] = [f"estimated:{method}"] * len(fill)
            filled.extend(range(first, last + 1))
    if filled and scope.params.scale_to_registers:
        _scale(scope, values, marks.failed, methods)
    raw_q = scope.batch.qualities
    raws = [raw_q[j] if j is not None else "" for j in grid.raw_index] if raw_q else None
    columns = (
        grid.timestamps,
        values,
        marks.qualities(marks.failed, raws),
        methods,
        marks.rules(),
    )
    if None in values:  # slots nothing arrived for and nothing estimated: no validated row
        keep = [i for i, v in enumerate(values) if v is not None]
        columns = tuple([column[i] for i in keep] for column in columns)
    return Validated(scope.batch.key, ReadingKind.INTERVAL, *columns)  # type: ignore[arg-type]


def _by_supply(scope: Scope, first: int, last: int) -> list[tuple[int, int, str]]:
    """Slots first..last split where the supply goes off or on: (first, last, off), off
    naming the zero estimate of slots without supply (inside a known outage, or wholly
    inside a period the relay was open), "" for the others."""
    ctx = scope.context
    if not ctx.outages and not ctx.disconnected:
        return [(first, last, "")]
    stamps = scope.grid.timestamps
    parts: list[tuple[int, int, str]] = []
    for i in range(first, last + 1):
        off = _no_supply(scope, stamps[i])
        if parts and parts[-1][2] == off:
            parts[-1] = (parts[-1][0], i, off)
        else:
            parts.append((i, i, off))
    return parts


def _no_supply(scope: Scope, ts: int) -> str:
    if scope.in_outage(ts):
        return estimation.OUTAGE
    return estimation.DISCONNECTED if scope.disconnected(ts, wholly=True) else ""


def _fill(
    scope: Scope, first: int, last: int, failed: list[bool], values: list[float | None]
) -> tuple[list[float], str]:
    """Estimate slots first..last (outside outages): short gap → linear; else like day;
    else linear anyway, the nearest good value, or zero (each named in the method)."""
    grid, p = scope.grid, scope.params
    stamps = grid.timestamps[first : last + 1]
    count = len(stamps)
    left = _end_point(scope, first - 1, failed, values)
    right = _end_point(scope, last + 1, failed, values)
    short = count * scope.batch.interval <= p.interpolation_limit_minutes * 60
    if short and left is not None and right is not None:
        return estimation.linear(left, right, count), estimation.LINEAR
    bad = {grid.timestamps[i] for i, f in enumerate(failed) if f}
    profiles = {**scope.history.days, **grid_days(scope, bad)}
    like = estimation.like_day(stamps, scope.batch.interval, profiles, p)
    if like is not None:
        return like, estimation.method_name(p)
    if left is not None and right is not None:
        return estimation.linear(left, right, count), estimation.LINEAR
    nearest = left if left is not None else right
    if nearest is not None:
        return [nearest] * count, estimation.NEAREST
    return [0.0] * count, "no_basis_zero"


def _end_point(
    scope: Scope, i: int, failed: list[bool], values: list[float | None]
) -> float | None:
    """A good neighbouring value usable as an interpolation end point (supplied all along:
    not in an outage, relay not open)."""
    grid = scope.grid
    if i < 0:
        prev = scope.history.previous
        step = scope.batch.interval
        if prev is not None and grid.timestamps and prev.ts == grid.timestamps[0] - step:
            return None if _unsupplied(scope, prev.ts) else prev.value
        return None
    if i >= len(values) or failed[i] or values[i] is None:
        return None
    return None if _unsupplied(scope, grid.timestamps[i]) else values[i]


def _unsupplied(scope: Scope, ts: int) -> bool:
    """The interval ending at ts had no supply for part of it at least."""
    return scope.in_outage(ts) or scope.disconnected(ts)


def _scale(
    scope: Scope, values: list[float | None], failed: list[bool], methods: list[str]
) -> None:
    """Scale the estimates between two register reads so the span adds up to them; an
    estimate without supply (outage, relay open) stays zero: no consumption to share out."""
    register = register_of(scope)
    if register is None:
        return
    factor = 10.0 ** (register.reading_type.multiplier - scope.batch.reading_type.multiplier)
    zero = {f"estimated:{estimation.OUTAGE}", f"estimated:{estimation.DISCONNECTED}"}
    for i, j, r1, r2 in register_pairs(scope, register):
        span = range(i + 1, j + 1)
        guessed = [k for k in span if failed[k] and methods[k] not in zero]
        if not guessed or any(values[k] is None for k in span):
            continue
        kept = set(guessed)
        target = (r2 - r1) * factor - sum(values[k] or 0.0 for k in span if k not in kept)
        if target < 0:
            continue
        scaled = estimation.scale([values[k] or 0.0 for k in guessed], target)
        for k, v in zip(guessed, scaled, strict=True):
            values[k] = v
            methods[k] += estimation.SCALED


def _registers(scope: Scope, found: list[Finding]) -> Validated:
    batch = scope.batch
    stamps = list(batch.timestamps)
    marks = _Marks.of(found, stamps)
    values = list(batch.values)
    methods = [VALIDATED] * len(values)
    good = [(ts, v) for ts, v, bad in zip(stamps, values, marks.failed, strict=True) if not bad]
    if scope.history.previous is not None:
        good.insert(0, (scope.history.previous.ts, scope.history.previous.value))
    for i, bad in enumerate(marks.failed):
        if bad:
            estimate = _in_time(good, stamps[i])
            if estimate is not None:
                values[i], methods[i] = estimate, f"estimated:{estimation.REGISTER_LINEAR}"
            else:
                marks.failed[i] = False  # cannot estimate: kept, marked suspect
                marks.suspect.add(i)
    raw_q = batch.qualities
    return Validated(
        batch.key,
        ReadingKind.REGISTER,
        stamps,
        values,
        [marks.quality(i, marks.failed[i], raw_q[i] if raw_q else "") for i in range(len(stamps))],
        methods,
        [marks.rule(i) for i in range(len(stamps))],
    )


def _in_time(good: list[tuple[int, float]], ts: int) -> float | None:
    """Linear in time between the nearest good reads before and after ts."""
    before = [(t, v) for t, v in good if t < ts]
    after = [(t, v) for t, v in good if t > ts]
    if not before or not after:
        return None
    (t1, v1), (t2, v2) = before[-1], after[0]
    return v1 + (v2 - v1) * (ts - t1) / (t2 - t1)
