"""VEE against the store: fetch context and history in bulk, run the pure engine, write
the validated layer and the findings; edits and re-runs go through the same path."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import repeat
from operator import sub
from typing import TYPE_CHECKING

from cimhub.domain.reading import ReadingKind
from cimhub.stages import stage
from cimhub.store.findings import FindingRepository
from cimhub.store.validated import EDITED, ApplyCounts, Row, ValidatedRepository
from cimhub.store.vee_config import VeeConfigs
from cimhub.store.vee_locks import lock_meters
from cimhub.vee import quality
from cimhub.vee.batch import DAY, Batch, off_the_grid
from cimhub.vee.calendar import profiles_from
from cimhub.vee.config import DEFAULT, Params, VeeConfig, tenant_layer, with_tenant
from cimhub.vee.context import MasterData, MeterContext, Previous, SeriesHistory
from cimhub.vee.edit import Edit, check_edit
from cimhub.vee.engine import Validated, VeeResult, validate
from cimhub.vee.finding import SeriesKey

if TYPE_CHECKING:
    from cimhub.store.readings import ReadingRepository, StoredSeries
    from cimhub.store.unit_of_work import UnitOfWork

#: user_id of versions VEE made (edits carry the editor's id)
VEE_USER = ""
#: (file config, tenant, stored version) → the effective config: configs are immutable,
#: and one object per version keeps ``VeeConfig.params``' cache warm
_EFFECTIVE: dict[tuple[VeeConfig, str, int], VeeConfig] = {}


class NoMasterData:
    """Every context unknown: the rules that need master data stay quiet."""

    def __init__(self, uow: object = None) -> None:
        pass

    def contexts(
        self,
        tenant_id: int,
        meter_ids: Sequence[int],
        start: int,
        end: int,
        *,
        outages_from: int | None = None,
    ) -> Mapping[int, MeterContext]:
        return {}


@dataclass(frozen=True, slots=True)
class VeeRun:
    """What one VEE run did."""

    readings: int = 0
    findings: int = 0
    new_findings: int = 0
    stored: ApplyCounts = field(default_factory=ApplyCounts)
    result: VeeResult | None = None

    @property
    def stored_as_validated(self) -> bool:
        """Whether the validated layer now holds exactly ``result.validated``'s values: VEE
        kept no user's edit and no measured value in place of its verdict."""
        return not (self.stored.kept_edits or self.stored.kept_measured)


def _store_master_data(uow: UnitOfWork) -> MasterData:
    from cimhub.store.vee_master import StoreMasterData

    return StoreMasterData(uow)


@dataclass(frozen=True)
class VeeService:
    """VEE against one store; ``master_data`` makes the MasterData of a unit of work."""

    config: VeeConfig = DEFAULT
    master_data: Callable[[UnitOfWork], MasterData] = _store_master_data

    def run(
        self,
        uow: UnitOfWork,
        tenant_id: int,
        tenant: str,
        batches: Sequence[Batch],
        type_ids: Mapping[str, int],
        *,
        now: int,
        like_days: bool = False,
        keep_edits: bool = True,
    ) -> VeeRun:
        """Validate ``batches`` (raw readings just stored, or re-read for a re-run).

        History comes in bulk: the previous read of every series, and day profiles of the
        like-day lookback for the series with a gap too long to interpolate — or, with
        ``like_days`` (re-runs), for every interval series, so ``usage.history`` can judge
        them. On ingest that rule sees only the batch's own days (fetching four weeks per
        meter per message would make VEE the ingest bottleneck). Users' edits stay unless
        ``keep_edits`` is False (a user asked VEE to judge the data again)."""
        prepared = self.prepare(
            uow,
            tenant_id,
            tenant,
            batches,
            type_ids,
            now=now,
            like_days=like_days,
            keep_edits=keep_edits,
        )
        if prepared is None:
            return VeeRun()
        return prepared.store(uow, prepared.judge())

    def prepare(
        self,
        uow: UnitOfWork,
        tenant_id: int,
        tenant: str,
        batches: Sequence[Batch],
        type_ids: Mapping[str, int],
        *,
        now: int,
        like_days: bool = False,
        keep_edits: bool = True,
    ) -> Prepared | None:
        """``run``'s reads (the meters' locks, master data, history); None when no batch
        holds anything to validate. What follows them sends no statement until
        ``Prepared.store``: ingest judges the readings while the server stores them."""
        batches = [b for b in batches if len(b.timestamps) or b.start is not None]
        if not batches:
            return None
        lock_meters(uow, (b.key.meter_id for b in batches))  # before the history is read
        service = self.for_tenant(uow, tenant_id, tenant)
        with _paused_gc(), stage("vee history"):
            contexts, history = service._inputs(
                uow, ValidatedRepository(uow), tenant_id, tenant, batches, type_ids, like_days
            )
        return Prepared(
            service, tenant_id, tenant, batches, type_ids, now, keep_edits, contexts, history
        )

    def for_tenant(self, uow: UnitOfWork, tenant_id: int, tenant: str) -> VeeService:
        """This service with the tenant's stored overrides over the file's (one query per
        tenant and transaction: a worker's batch of messages asks once)."""
        known = uow.__dict__.setdefault("_vee_config", {})
        if tenant_id not in known:
            known[tenant_id] = VeeConfigs(uow).document(tenant_id)
        version, document = known[tenant_id]
        if not version:
            return self
        key = (self.config, tenant, version)
        config = _EFFECTIVE.get(key)
        if config is None:
            if len(_EFFECTIVE) > 256:
                _EFFECTIVE.clear()
            config = with_tenant(self.config, tenant, tenant_layer(document), version)
            _EFFECTIVE[key] = config
        return replace(self, config=config)

    def _inputs(
        self,
        uow: UnitOfWork,
        validated_repo: ValidatedRepository,
        tenant_id: int,
        tenant: str,
        batches: Sequence[Batch],
        type_ids: Mapping[str, int],
        like_days: bool,
    ) -> tuple[dict[int, MeterContext], dict[SeriesKey, SeriesHistory]]:
        """The meters' master data over the batches' span, and the series' history."""
        start = min(_first(b) for b in batches)
        end = max(_last(b) for b in batches)
        meters = sorted({b.key.meter_id for b in batches})
        lookback = self.config.params(tenant).like_day_lookback_days * DAY
        contexts = self.master_data(uow).contexts(
            tenant_id, meters, start, end, outages_from=start - lookback
        )
        history = self._history(
            validated_repo,
            uow.readings,
            tenant_id,
            tenant,
            batches,
            type_ids,
            like_days,
            contexts,
        )
        return contexts, history

    def _history(
        self,
        repo: ValidatedRepository,
        readings: ReadingRepository,
        tenant_id: int,
        tenant: str,
        batches: Sequence[Batch],
        type_ids: Mapping[str, int],
        all_profiles: bool,
        contexts: Mapping[int, MeterContext],
    ) -> dict[SeriesKey, SeriesHistory]:
        """Previous reads of every series; like-day profiles where they are needed (a day
        with a known outage, or with the relay open, is no like day); the last raw stamps
        of a series with a reading off its grid (a drifting clock's chain goes on)."""
        params = self.config.params(tenant)
        lookback = params.like_day_lookback_days * DAY
        ids = {b.key: (b.key.meter_id, type_ids[b.key.reading_type]) for b in batches}
        firsts = {ids[b.key]: _first(b) + 1 for b in batches}
        previous = repo.previous(tenant_id, firsts, lookback)
        limit = params.interpolation_limit_minutes * 60
        needy = [
            b
            for b in batches
            if b.kind is ReadingKind.INTERVAL
            and (all_profiles or _long_gap(b, previous.get(ids[b.key]), limit))
        ]
        profiles = {}
        if needy:
            lo = min(_first(b) for b in needy) - lookback
            hi = max(_first(b) for b in needy)
            stored = repo.intervals(tenant_id, [ids[b.key] for b in needy], lo, hi)
            for b in needy:
                rows = [r for r in stored.get(ids[b.key], []) if r[0] <= _first(b)]
                if rows:
                    stamps, values, quals = zip(*rows, strict=True)
                    context = contexts.get(b.key.meter_id)
                    profiles[b.key] = profiles_from(
                        stamps, values, quals, b.interval, params, outages=_unsupplied(context)
                    )
        stamps = _last_stamps(readings, tenant_id, batches, ids, params)
        return {
            b.key: SeriesHistory(
                Previous(*previous[ids[b.key]]) if ids[b.key] in previous else None,
                profiles.get(b.key, {}),
                tuple(stamps.get(ids[b.key], ())),
            )
            for b in batches
        }

    def rerun(
        self,
        uow: UnitOfWork,
        tenant_id: int,
        tenant: str,
        meter_ids: Sequence[int],
        start: int,
        end: int,
        *,
        now: int,
        reading_type: str | None = None,
        keep_edits: bool = True,
        trim: bool = False,
    ) -> VeeRun:
        """Validate the raw readings of ``meter_ids`` over (start, end] again (after a rule
        or parameter change, or to estimate gaps still open after the re-acquisition
        wait). Unchanged results store nothing: a re-run is idempotent. ``reading_type``
        limits it to one series code; ``keep_edits=False`` lets VEE's verdict replace
        users' edits (see ``run``); ``trim`` narrows each interval series' period to its
        own first and last reading in it (no gap is invented where data may yet come)."""
        lock_meters(uow, meter_ids)  # before the raw readings are read
        batches, type_ids = raw_batches(uow, tenant_id, meter_ids, start, end)
        if reading_type is not None:
            batches = [b for b in batches if b.key.reading_type == reading_type]
        if trim:
            batches = [_trimmed(b) for b in batches]
        return self.run(uow, tenant_id, tenant, batches, type_ids, now=now, like_days=True,
                        keep_edits=keep_edits)  # fmt: skip

    def edit(
        self,
        uow: UnitOfWork,
        tenant_id: int,
        edits: Sequence[Edit],
        type_ids: Mapping[str, int],
        *,
        user_id: str | None,
        reason: str | None,
        now: int,
    ) -> ApplyCounts:
        """Manual edits and bulk corrections: new validated versions, quality 3.7.0, with
        the user and the reason (both mandatory; ``EditRefused`` otherwise)."""
        user, why = check_edit(user_id, reason, list(edits))
        lock_meters(uow, (e.meter_id for e in edits))
        rows = [
            Row(
                e.meter_id,
                type_ids[e.reading_type],
                e.ts,
                e.kind.value,
                e.value,
                quality.EDITED,
                EDITED,
                "",
                user,
                why,
                self.config.version,
            )
            for e in edits
        ]
        return ValidatedRepository(uow).apply(tenant_id, rows, now=now, keep_edits=False)


@dataclass(frozen=True, slots=True)
class Judged:
    """The rules' verdicts on a prepared run, and the validated layer's rows they make."""

    result: VeeResult
    rows: list[Row]


@dataclass(frozen=True, slots=True)
class Prepared:
    """One VEE run with its inputs read: ``judge`` (no I/O), then ``store``."""

    service: VeeService
    tenant_id: int
    tenant: str
    batches: Sequence[Batch]
    type_ids: Mapping[str, int]
    now: int
    keep_edits: bool
    contexts: Mapping[int, MeterContext]
    history: Mapping[SeriesKey, SeriesHistory]

    def judge(self) -> Judged:
        """The rules over the batches, and the rows of the validated layer."""
        config = self.service.config
        with _paused_gc(), stage("vee rules"):
            result = validate(
                self.batches,
                now=self.now,
                contexts=self.contexts,
                history=self.history,
                config=config,
                tenant=self.tenant,
            )
            type_ids, version = self.type_ids, config.version
            rows = [row for v in result.validated for row in _rows(v, type_ids, version)]
        return Judged(result, rows)

    def store(
        self, uow: UnitOfWork, judged: Judged, meanwhile: Callable[[], object] | None = None
    ) -> VeeRun:
        """Write the verdicts: the validated layer's new versions, the findings;
        ``meanwhile``: see ``ValidatedRepository.apply``."""
        tenant_id, type_ids, version = self.tenant_id, self.type_ids, self.service.config.version
        with _paused_gc():
            with stage("vee store"):
                stored = ValidatedRepository(uow).apply(
                    tenant_id,
                    judged.rows,
                    now=self.now,
                    keep_edits=self.keep_edits,
                    meanwhile=meanwhile,
                )
            windows = [
                (b.key.meter_id, type_ids[b.key.reading_type], _first(b) - 1, _last(b))
                for b in self.batches
            ]
            findings = judged.result.findings
            with stage("vee findings"):
                new = FindingRepository(uow).record(
                    tenant_id,
                    [(type_ids[f.series.reading_type], f) for f in findings],
                    windows=windows,
                    config_version=version,
                    now=self.now,
                )
        return VeeRun(len(judged.rows), len(findings), new, stored, judged.result)


@contextmanager
def _paused_gc() -> Iterator[None]:
    """No cyclic garbage collection during one VEE run.

    A run allocates a few objects per reading (columns, row tuples) and none of them
    form cycles; on a hub whose heap is large, the collections those allocations trigger
    scan everything and cost more than VEE itself (measured: ~38k → ~60k readings/s on
    ingest with VEE). Collection resumes (if it was on) as soon as the run ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _first(batch: Batch) -> int:
    if batch.start is not None:
        return batch.start
    return batch.timestamps[0] - max(batch.interval, 1)


def _last(batch: Batch) -> int:
    return batch.end if batch.end is not None else batch.timestamps[-1]


def _last_stamps(
    readings: ReadingRepository,
    tenant_id: int,
    batches: Sequence[Batch],
    ids: Mapping[SeriesKey, tuple[int, int]],
    params: Params,
) -> dict[tuple[int, int], list[int]]:
    """The raw stamps before each interval batch with a reading off its grid (a healthy
    meter's batch asks for none): as many as a drifting chain needs, from the last day."""
    befores = {
        ids[b.key]: b.start + 1 if b.start is not None else b.timestamps[0]
        for b in batches
        if b.kind is ReadingKind.INTERVAL and off_the_grid(b, params)
    }
    if not befores or params.clock_drift_max_seconds <= 0:
        return {}
    return readings.last_stamps(tenant_id, befores, params.clock_drift_min_readings, DAY)


def _unsupplied(context: MeterContext | None) -> tuple[tuple[int, int], ...]:
    """The periods without supply a meter's context knows: outages, relay open."""
    if context is None:
        return ()
    return (*(context.outages or ()), *(context.disconnected or ()))


def _trimmed(batch: Batch) -> Batch:
    if batch.kind is not ReadingKind.INTERVAL or not batch.timestamps or batch.start is None:
        return batch
    first, last = batch.timestamps[0] - batch.interval, batch.timestamps[-1]
    return replace(batch, start=max(batch.start, first), end=min(batch.end or last, last))


def _long_gap(batch: Batch, previous: tuple[int, float] | None, limit: int) -> bool:
    stamps = batch.timestamps
    limit += batch.interval
    edges = [previous[0]] if previous else []
    if batch.start is not None:
        edges.append(batch.start)
    if batch.end is not None and stamps and batch.end - stamps[-1] > limit:
        return True
    points = sorted(edges[:1] + list(stamps))
    return max(map(sub, points[1:], points[:-1]), default=limit) > limit


def _rows(v: Validated, type_ids: Mapping[str, int], config_version: str) -> list[Row]:
    """The validated series as store rows, column-wise (no per-reading calls)."""
    n = len(v.timestamps)
    reasons = {key: _reason(*key) for key in set(zip(v.methods, v.rules, strict=True))}
    return list(
        map(
            tuple.__new__,  # Row._make without a Python call per reading
            repeat(Row, n),
            zip(
                repeat(v.key.meter_id, n),
                repeat(type_ids[v.key.reading_type], n),
                v.timestamps,
                repeat(v.kind.value, n),
                v.values,
                v.qualities,
                v.methods,
                v.rules,
                repeat(VEE_USER, n),
                list(map(reasons.__getitem__, zip(v.methods, v.rules, strict=True))),
                repeat(config_version, n),
                strict=True,
            ),
        )
    )


def _reason(method: str, rule: str) -> str:
    if not rule:
        return "passed VEE"
    if method.startswith("estimated"):
        return f"estimated after {rule}"
    return f"flagged by {rule}"


#: readings fetched per query when a re-run reads raw data back
RERUN_PAGE = 200_000
#: meters validated per unit of work by a re-run
RERUN_CHUNK = 200


def raw_batches(
    uow: UnitOfWork, tenant_id: int, meter_ids: Sequence[int], start: int, end: int
) -> tuple[list[Batch], dict[str, int]]:
    """The raw readings of some meters over (start, end] as VEE batches; interval batches
    answer for the whole period, so gaps at its ends count too. Register reads are taken
    over [start, end]: a read at the period start bounds its first span (sum check)."""
    batches: list[Batch] = []
    type_ids: dict[str, int] = {}
    for kind in (ReadingKind.INTERVAL, ReadingKind.REGISTER):
        after = None
        while True:
            rows = uow.readings.query(
                tenant_id,
                kind,
                meter_ids=meter_ids,
                reading_type_ids=None,
                start=start if kind is ReadingKind.INTERVAL else start - 1,
                end=end,
                after=after,
                limit=RERUN_PAGE,
            )
            if not rows:
                break
            codes = uow.reading_types.codes_for({r.reading_type_id for r in rows})
            for r in rows:
                code = codes[r.reading_type_id]
                type_ids[code] = r.reading_type_id
                period = (start, end) if kind is ReadingKind.INTERVAL else (None, None)
                key = SeriesKey(r.meter_id, code)
                if batches and batches[-1].key == key and batches[-1].kind is kind:
                    last = batches.pop()  # a series split across two pages
                    r.timestamps[:0], r.values[:0] = last.timestamps, last.values
                    r.qualities[:0] = last.qualities
                batches.append(Batch(key, kind, r.timestamps, r.values, r.qualities, *period))
            total = sum(len(r.timestamps) for r in rows)
            if total < RERUN_PAGE:
                break
            last_row = rows[-1]
            after = (last_row.meter_id, last_row.reading_type_id, last_row.timestamps[-1])
    return batches, type_ids


def with_stored_between(
    uow: UnitOfWork, tenant_id: int, batches: Sequence[Batch], type_ids: Mapping[str, int]
) -> list[Batch]:
    """The batches just stored, each interval batch with a hole between its readings taken
    whole from the store over its span: late data or a repeated block comes with newer
    blocks, and the ones the hub already holds between them are no gap. Only batches with
    a hole ask (a contiguous one, the common case, costs nothing)."""
    out = []
    for batch in batches:
        stored = _stored_span(uow, tenant_id, batch, type_ids) if _has_hole(batch) else None
        out.append(batch if stored is None else replace(
            batch, timestamps=stored.timestamps, values=stored.values, qualities=stored.qualities
        ))  # fmt: skip
    return out


def _stored_span(
    uow: UnitOfWork, tenant_id: int, batch: Batch, type_ids: Mapping[str, int]
) -> StoredSeries | None:
    """The stored raw readings of the batch's series from its first to its last."""
    found = uow.readings.query(
        tenant_id,
        batch.kind,
        meter_ids=[batch.key.meter_id],
        reading_type_ids=[type_ids[batch.key.reading_type]],
        start=batch.timestamps[0] - 1,
        end=batch.timestamps[-1],
        after=None,
        limit=RERUN_PAGE,
    )
    return found[0] if found else None


def reads_stored(batches: Sequence[Batch]) -> bool:
    """Whether ``with_stored_between`` reads any of these batches back from the store."""
    return any(map(_has_hole, batches))


def _has_hole(batch: Batch) -> bool:
    """Whether an interval batch skips an interval between two of its readings (a stamp
    drifted within the clock tolerance is no skip)."""
    step, stamps = batch.interval, batch.timestamps
    limit = step * 3 // 2  # the largest step, decided in C (not a generator per reading)
    return bool(step) and max(map(sub, stamps[1:], stamps[:-1]), default=limit) > limit


def failures_report(uow: UnitOfWork, tenant_id: int, start: int, end: int) -> dict[str, object]:
    """The daily VEE failures report: findings first seen in (start, end], per rule and
    severity, with how many meters each touched."""
    rows = FindingRepository(uow).daily_counts(tenant_id, start, end)
    return {
        "start": start,
        "end": end,
        "findings": sum(r[2] for r in rows),
        "by_rule": [
            {"rule": rule, "severity": severity, "findings": count, "meters": meters}
            for rule, severity, count, meters in rows
        ],
    }
