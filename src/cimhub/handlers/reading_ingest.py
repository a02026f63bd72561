"""MeterReadings created/create/changed: store the raw readings, then VEE, then answer.

One message or a worker's group of them goes through the same steps, each done once for
the group: one meter resolution, one bulk write of the raw rows (each row naming its own
message), one VEE run, one refresh of the daily aggregates. A meter named by several
messages of a group is handled in message order: the group is cut into rounds in which
each meter appears once (one round in the common case, one push a meter), so VEE and the
readings' versions see exactly what handling the messages one by one would show them.
Each message gets its own Outcome: its counts, its item errors, its VEE figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from cimhub.domain.reading import ReadingKind, SaveCounts, Series, merge_series
from cimhub.errors import PayloadError
from cimhub.handlers.commands import close_reads
from cimhub.handlers.registry import Group, HandlerContext
from cimhub.mappings.meter_readings import MeterReadingItem, read_meter_readings
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome, ReplyError, Result
from cimhub.settings import Settings
from cimhub.stages import stage
from cimhub.store.daily_aggregates import prepare_validated, refresh_validated
from cimhub.store.validated import file_applied
from cimhub.store.vee import Judged, VeeService, reads_stored, with_stored_between
from cimhub.store.vee_locks import lock_meters
from cimhub.vee.batch import Batch
from cimhub.vee.config import DEFAULT, load_config
from cimhub.vee.finding import SeriesKey


@dataclass(slots=True)
class Readings:
    """One message as read (no I/O yet): its MeterReadings and the items refused."""

    items: list[MeterReadingItem]
    errors: list[ReplyError]


@dataclass(slots=True, eq=False)  # hashed by identity
class _Message:
    """One message of a group while it is handled: its context, meters and figures."""

    ctx: HandlerContext
    errors: list[ReplyError]
    by_meter: dict[int, list[MeterReadingItem]] = field(default_factory=dict)
    counts: SaveCounts = field(default_factory=SaveCounts)
    validated: int = 0
    findings: int = 0
    vee: bool = False


def read(envelope: Envelope) -> Readings:
    """The readings of one message; PayloadError when it holds none at all."""
    if envelope.payload is None:
        raise PayloadError("MeterReadings message without a MeterReadings payload")
    items, errors = read_meter_readings(envelope.payload)
    if not items and not errors:
        raise PayloadError("the MeterReadings payload holds no MeterReading")
    return Readings(items, errors)


def handle(messages: Sequence[tuple[HandlerContext, Readings]]) -> list[Outcome]:
    """Store every valid MeterReading of every message; reject the faulty ones item by
    item (PARTIAL); see the module docstring."""
    group = [_Message(ctx, list(readings.errors)) for ctx, readings in messages]
    _resolve_meters(group, [readings.items for _, readings in messages])
    ctx = group[0].ctx
    if ctx.settings.vee_enabled:  # every round's meters at once: one order, no deadlock
        lock_meters(ctx.uow, (m for message in group for m in message.by_meter))
    for round_ in _rounds(group):
        _ingest(round_)
    return [_outcome(message) for message in group]


#: The MeterReadings ingest handler (``INGEST.one`` handles a single message).
INGEST = Group(read, handle)


def vee_service(settings: Settings) -> VeeService:
    """The VEE service of these settings (its TOML configuration read once)."""
    return _vee_service(settings.vee_config)


@lru_cache(maxsize=8)
def _vee_service(config_path: str | None) -> VeeService:
    return VeeService(load_config(config_path) if config_path else DEFAULT)


def _resolve_meters(group: list[_Message], items: list[list[MeterReadingItem]]) -> None:
    """Every message's meters in one look-up; unknown ones become item errors (2.15)."""
    ctx = group[0].ctx
    refs = [item.meter for message_items in items for item in message_items]
    ids = iter(
        ctx.uow.meters.resolve(ctx.tenant_id, refs, auto_register=ctx.settings.auto_register_meters)
    )
    for message, message_items in zip(group, items, strict=True):
        by_meter: dict[int, list[MeterReadingItem]] = defaultdict(list)
        for item in message_items:
            meter_id = next(ids)
            if meter_id is None:
                message.errors.append(
                    ReplyError(
                        "2.15",
                        f"unknown meter {item.meter.key!r}",
                        xpath=f"{item.xpath}/Meter",
                        object_id=item.meter.key,
                    )
                )
            else:
                by_meter[meter_id].append(item)
        message.by_meter = by_meter


def _rounds(group: list[_Message]) -> list[list[_Message]]:
    """The group in rounds, each meter at most once a round, a meter's messages in order."""
    rounds: list[list[_Message]] = []
    last: dict[int, int] = {}  # meter → the round of the latest message naming it
    for message in group:
        n = 1 + max((last.get(m, -1) for m in message.by_meter), default=-1)
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(message)
        last.update(dict.fromkeys(message.by_meter, n))
    return rounds


def _ingest(round_: list[_Message]) -> None:
    """Store one round's readings, then validate them, all at once.

    VEE's reads come first when they need none of the round's rows (no series with a
    hole to read back whole: the usual case); its rules then run while the server stores
    the raw rows (``save_from``'s ``meanwhile``), so the two share the machine's cores
    instead of taking turns."""
    ctx = round_[0].ctx
    uow, tenant_id = ctx.uow, ctx.tenant_id
    merged = _merged(round_)
    batches = _batches(merged.stored)
    validating = ctx.settings.vee_enabled and bool(batches)
    service = vee_service(ctx.settings)
    tenant = uow.tenants.code_of(tenant_id) if validating else ""
    type_ids, now = merged.type_ids, ctx.received_at
    early = (
        service.prepare(uow, tenant_id, tenant, batches, type_ids, now=now)
        if validating and not reads_stored(batches)
        else None
    )
    judged: list[Judged] = []
    with stage("store raw"):
        _save(round_, merged, None if early is None else lambda: judged.append(early.judge()))
    close_reads(uow, tenant_id, _seen(batches), "readings for the period received")
    if not validating:
        return
    prepared = early or service.prepare(
        uow,
        tenant_id,
        tenant,
        with_stored_between(uow, tenant_id, batches, type_ids),
        type_ids,
        now=now,
    )
    if prepared is None:
        return
    verdicts = judged[0] if judged else prepared.judge()
    # Billing's daily aggregates, over what VEE stores (a gap's estimates too): read now and
    # computed while the server stores the validated rows, if they need none of them.
    with stage("daily aggregates"):
        validated = verdicts.result.validated
        refresh = prepare_validated(uow, tenant_id, validated, as_stored=True, before_stored=True)
    beside = _timed(refresh.compute) if refresh is not None and refresh.ready else None
    run = prepared.store(uow, verdicts, beside)
    owner = {m: message for message in round_ for m in message.by_meter}
    for batch in batches:
        owner[batch.key.meter_id].vee = True
    for v in validated:
        owner[v.key.meter_id].validated += len(v)
    for finding in verdicts.result.findings:
        owner[finding.series.meter_id].findings += 1
    logs = {m: o.ctx.message_log_id for m, o in owner.items()}
    file_applied(uow, {m: log_id for m, log_id in logs.items() if log_id is not None})
    with stage("daily aggregates"):
        if refresh is not None and run.stored_as_validated:
            refresh.write()  # read now if it could not be before
        elif refresh is not None:  # users' edits or measured values kept: read them back
            refresh_validated(uow, tenant_id, validated, as_stored=False)


def _timed(compute: Callable[[], None]) -> Callable[[], None]:
    """``compute`` with its time the daily aggregates' (not the validated rows' write)."""

    def timed() -> None:
        with stage("daily aggregates"):
            compute()

    return timed


@dataclass(slots=True)
class _Merged:
    """A round's series ready to store: each message's meters' series merged, per kind."""

    rows: dict[ReadingKind, list[tuple[int, str, Series, _Message]]]
    links: list[tuple[int, str]]
    type_ids: dict[str, int]

    @property
    def stored(self) -> list[tuple[int, str, Series]]:
        return [(m, c, s) for kind_rows in self.rows.values() for m, c, s, _ in kind_rows]


def _merged(round_: list[_Message]) -> _Merged:
    """The round's series, merged per meter and message (a message's conflicting
    duplicates refuse that meter's readings), and their ReadingTypes' ids."""
    ctx = round_[0].ctx
    rows: dict[ReadingKind, list[tuple[int, str, Series, _Message]]] = defaultdict(list)
    links: list[tuple[int, str]] = []
    for message in round_:
        for meter_id, items in message.by_meter.items():
            merged, conflicts = merge_series([s for i in items for s in i.series])
            if conflicts:
                message.errors.append(_conflict(items[0], conflicts))
                continue
            for series in merged:
                rows[series.kind].append((meter_id, series.reading_type, series, message))
            links.extend((meter_id, i.usage_point) for i in items if i.usage_point)
    codes = {code for kind_rows in rows.values() for _, code, _, _ in kind_rows}
    return _Merged(rows, links, ctx.uow.reading_types.ids_for(codes))


def _save(round_: list[_Message], merged: _Merged, meanwhile: Callable[[], None] | None) -> None:
    """Store the round's raw readings, each row naming its message; ``meanwhile`` runs
    once, beside the last write: the interval readings' when there are any."""
    ctx = round_[0].ctx
    kinds = sorted(merged.rows, key=lambda kind: kind is ReadingKind.INTERVAL)  # theirs last
    for kind in kinds:
        kind_rows = merged.rows[kind]
        counts = ctx.uow.readings.save_from(
            ctx.tenant_id,
            kind,
            [(m, merged.type_ids[c], s) for m, c, s, _ in kind_rows],
            [(o.ctx.source, o.ctx.message_log_id) for _, _, _, o in kind_rows],
            received_at=ctx.received_at,
            meanwhile=meanwhile if kind is kinds[-1] else None,
        )
        for message in dict.fromkeys(o for _, _, _, o in kind_rows):
            message.counts += counts.get(message.ctx.message_log_id, SaveCounts())
    if merged.links:
        ctx.uow.usage_points.link(ctx.tenant_id, merged.links, seen_at=ctx.received_at)


def _conflict(item: MeterReadingItem, conflicts: list[tuple[str, int]]) -> ReplyError:
    code, ts = conflicts[0]
    return ReplyError(
        "2.3",
        f"reading {code} at {ts} appears twice with different values "
        f"({len(conflicts)} conflict(s)); this meter's readings were not stored",
        xpath=item.xpath,
        object_id=item.meter.key,
    )


def _batches(rows: list[tuple[int, str, Series]]) -> list[Batch]:
    """The stored series as VEE batches, sorted by time."""
    out = []
    for meter_id, code, series in rows:
        stamps, values, qualities = series.timestamps, series.values, series.qualities
        if stamps != sorted(stamps):  # a sorted series (the usual) is taken as it is
            order = sorted(range(len(series)), key=stamps.__getitem__)
            stamps = [stamps[i] for i in order]
            values = [values[i] for i in order]
            qualities = [qualities[i] for i in order]
        out.append(
            Batch(
                SeriesKey(meter_id, code), series.kind, list(stamps), list(values), list(qualities)
            )
        )
    return out


def _seen(batches: list[Batch]) -> dict[int, list[tuple[Sequence[int], int]]]:
    """Per meter, the timestamps and interval length of each series stored (the open
    on-demand and re-read commands they may answer)."""
    seen: dict[int, list[tuple[Sequence[int], int]]] = defaultdict(list)
    for batch in batches:
        seen[batch.key.meter_id].append((batch.timestamps, batch.interval))
    return seen


def _outcome(message: _Message) -> Outcome:
    counts = message.counts
    stored = counts.inserted + counts.unchanged + counts.changed
    errors = sorted(message.errors, key=lambda e: e.xpath or "")
    if errors:
        return Outcome(Result.PARTIAL if stored else Result.FAILED, errors)
    vee = (
        f"; VEE: {message.validated} validated, {message.findings} finding(s)"
        if message.vee
        else ""
    )
    return Outcome(
        summary=f"{stored} readings: {counts.inserted} new, "
        f"{counts.unchanged} unchanged, {counts.changed} changed{vee}"
    )
