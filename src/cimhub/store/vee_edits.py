"""Edits of one validated series with their audit: the values before, VeeService.edit (the
same versioning path as a CIM MeterReadings ``change``), billing's daily aggregates, and
one audit-chain entry naming who, why and what changed; and a user's request that VEE
judge a period again (``revalidate_series``), which gives users' edits there up.

Raw readings are never touched. Every replaced value also stays in the validated layer's
versions, so the audit entry carries at most ``AUDITED_VALUES`` of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cimhub.domain.reading import ReadingKind
from cimhub.store.audit import AuditLog
from cimhub.store.daily_aggregates import refresh, refresh_edits
from cimhub.store.validated import ApplyCounts, Row, ValidatedRepository
from cimhub.store.vee_locks import lock_meters
from cimhub.vee.edit import Edit, EditRefused, check_edit

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork
    from cimhub.store.vee import VeeService

AUDITED_VALUES = 1000
#: Validated readings a revalidation reports (its period is bounded by the request)
MAX_REVALIDATED = 100_000


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """One validated series of a tenant: meter (id and the key it was named by) and type."""

    tenant_id: int
    tenant: str
    meter_id: int
    meter: str
    reading_type: str
    reading_type_id: int
    kind: ReadingKind


@dataclass(frozen=True, slots=True)
class Who:
    """Who edits (``user``, recorded on every version), why, and the principal acting."""

    user: str
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class EditResult:
    counts: ApplyCounts
    before: dict[int, float | None]  #: ts → the validated value replaced (None: there was none)
    after: dict[int, float]
    audit_id: int


def edit_series(
    uow: UnitOfWork,
    service: VeeService,
    series: SeriesRef,
    values: dict[int, float],
    who: Who,
    *,
    action: str,
    now: int,
    detail: dict[str, object] | None = None,
) -> EditResult:
    """Store ``values`` (ts → value) as edited versions; raises ``EditRefused`` (nothing
    written) without a user or reason or with a non-finite value."""
    s = series
    edits = [Edit(s.meter_id, s.reading_type, s.kind, ts, v) for ts, v in sorted(values.items())]
    keys = [_key(s, ts) for ts in values]
    lock_meters(uow, [s.meter_id])  # "before" is what the edit replaces
    current = ValidatedRepository(uow).current(s.tenant_id, keys)
    before = {ts: _value(current.get((s.meter_id, s.reading_type_id, ts))) for ts in values}
    counts = service.edit(
        uow, s.tenant_id, edits, {s.reading_type: s.reading_type_id},
        user_id=who.user, reason=who.reason, now=now,
    )  # fmt: skip
    refresh_edits(uow, s.tenant_id, edits)  # billing's daily aggregates
    audit_id = AuditLog(uow).record(
        who.actor,
        action,
        f"meter:{s.meter}/{s.reading_type}",
        tenant=s.tenant,
        before=_audited(before),
        after={
            "user": who.user,
            "reason": who.reason,
            "kind": s.kind.value,
            "edited": len(edits),
            "inserted": counts.inserted,
            "changed": counts.changed,
            **(detail or {}),
            "values": _audited(values)["values"],
        },
        at=now,
    )
    return EditResult(counts, before, dict(values), audit_id)


def revalidate_series(
    uow: UnitOfWork, service: VeeService, series: SeriesRef, start: int, end: int, who: Who,
    *, now: int,
) -> EditResult:  # fmt: skip
    """VEE judges one series' raw readings over (start, end] again and its verdict (valid,
    flagged, estimated) replaces what stood there, users' edits included; audited like an
    edit. Raises ``EditRefused`` without a user or reason, or without raw readings."""
    check_edit(who.user, who.reason, [])
    s = series
    before = _validated(uow, s, start, end)
    run = service.rerun(uow, s.tenant_id, s.tenant, [s.meter_id], start, end, now=now,
                        reading_type=s.reading_type, keep_edits=False)  # fmt: skip
    if not run.readings:
        raise EditRefused(f"no raw readings in ({start}, {end}] for VEE to judge")
    after = _validated(uow, s, start, end)
    refresh(uow, s.tenant_id, [(s.meter_id, start, end)])  # billing's daily aggregates
    audit_id = AuditLog(uow).record(
        who.actor, "vee.revalidate", f"meter:{s.meter}/{s.reading_type}", tenant=s.tenant,
        before=_audited(before),
        after={"user": who.user, "reason": who.reason, "start": start, "end": end,
               "inserted": run.stored.inserted, "changed": run.stored.changed,
               "values": _audited(after)["values"]},
        at=now,
    )  # fmt: skip
    return EditResult(run.stored, {ts: before.get(ts) for ts in after}, after, audit_id)


def _validated(uow: UnitOfWork, s: SeriesRef, start: int, end: int) -> dict[int, float]:
    found = ValidatedRepository(uow).query(
        s.tenant_id, s.kind, meter_ids=[s.meter_id], reading_type_ids=[s.reading_type_id],
        start=start, end=end, after=None, limit=MAX_REVALIDATED,
    )  # fmt: skip
    return {ts: v for f in found for ts, v in zip(f.timestamps, f.values, strict=True)}


def _key(s: SeriesRef, ts: int) -> Row:
    return Row(s.meter_id, s.reading_type_id, ts, s.kind.value, 0.0, "", "", "", "", "", "")


def _value(row: dict[str, object] | None) -> float | None:
    return None if row is None else float(row["value"])  # type: ignore[arg-type]


def _audited(values: dict[int, float | None] | dict[int, float]) -> dict[str, object]:
    items: Sequence[tuple[int, float | None]] = sorted(values.items())
    return {"count": len(items), "values": [list(i) for i in items[:AUDITED_VALUES]]}
