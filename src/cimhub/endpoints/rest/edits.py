"""Edits of validated readings over REST: a manual edit, a bulk correction over a period,
and the version history of one reading (raw as received, validated versions).

Edits go through ``VeeService.edit`` like a CIM MeterReadings ``change``: raw data is
never touched, each value becomes a new validated version (quality 3.7.0) naming the user
and the reason, billing's daily aggregates follow, and the audit chain records who, why,
before and after. The user is the authenticated principal; in open loopback mode (no
authentication configured) the request names it in ``user``. A refused edit is 409.
A correction may instead ask VEE to judge the period's raw data again (``revalidate``):
its verdict replaces what stood there, users' edits included, and is audited the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from cimhub.bus.outbox import announce_validated
from cimhub.domain.reading import ReadingKind
from cimhub.endpoints.rest import vee_schemas as schemas
from cimhub.endpoints.rest.problems import problem
from cimhub.endpoints.rest.schemas import Problem
from cimhub.errors import InvalidQueryError, UnknownObjectError
from cimhub.store.unit_of_work import UnitOfWork
from cimhub.store.validated import ValidatedRepository
from cimhub.store.vee_edits import EditResult, SeriesRef, Who, edit_series, revalidate_series
from cimhub.vee.edit import EditRefused, Operation, corrected

if TYPE_CHECKING:
    from cimhub.endpoints.rest.vee import Scope

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "unknown meter or reading type (2.15)"},
    409: {"model": Problem, "description": "edit refused: nothing was changed (3.1)"},
    422: {"model": Problem, "description": "invalid request (2.4)"},
}
MeterKey = Annotated[str, Path(description="the meter's mRID, serial number or name")]
#: Readings a correction may touch at once (a month of 5-minute intervals and more).
MAX_CORRECTED = 20_000


def router(scope: Scope) -> APIRouter:
    api = APIRouter(tags=["VEE"], responses=ERRORS)

    @api.post(
        "/meters/{key}/readings/edits",
        response_model=schemas.EditResult,
        summary="Edit validated readings of one series (manual edit; raw stays untouched)",
    )
    def edit(request: Request, key: MeterKey, body: schemas.EditRequest) -> Any:
        values = {r.ts: r.value for r in body.readings}

        def apply(uow: UnitOfWork, s: SeriesRef, who: Who, now: int) -> EditResult:
            return edit_series(uow, scope.service, s, values, who, action="vee.edit", now=now)

        return _edit(scope, request, key, body, apply)

    @api.post(
        "/meters/{key}/readings/corrections",
        response_model=schemas.EditResult,
        summary="Bulk correction of one series over (start, end]: scale, replace or "
        "interpolate its validated readings, or have VEE revalidate them from raw data",
    )
    def correct(request: Request, key: MeterKey, body: schemas.CorrectionRequest) -> Any:
        def apply(uow: UnitOfWork, s: SeriesRef, who: Who, now: int) -> EditResult:
            if body.operation is Operation.REVALIDATE:
                return revalidate_series(uow, scope.service, s, body.start, body.end, who,
                                         now=now)  # fmt: skip
            values, detail = _correction(uow, s, body)
            return edit_series(uow, scope.service, s, values, who, action="vee.correction",
                               now=now, detail=detail)  # fmt: skip

        return _edit(scope, request, key, body, apply)

    @api.get(
        "/meters/{key}/readings/{reading_type}/{ts}/versions",
        response_model=schemas.Versions,
        summary="Every version of one reading: raw as received and validated",
    )
    def versions(
        request: Request,
        key: MeterKey,
        reading_type: Annotated[str, Path(max_length=100, description="18-field code")],
        ts: Annotated[int, Path(ge=0, le=2**40, description="UTC epoch seconds")],
    ) -> dict[str, Any]:
        with scope.reader.tenant(scope.tenant(request)) as (uow, tenant_id):
            meter_id = scope.meter(uow, tenant_id, key)
            type_id = _type_id(uow, reading_type)
            raw = {
                k: uow.readings.versions(tenant_id, k, meter_id, type_id, ts) for k in ReadingKind
            }
            done = ValidatedRepository(uow).versions(tenant_id, meter_id, type_id, ts)
        kind = next((k for k, found in raw.items() if found), None)
        if kind is None and not done:
            raise UnknownObjectError(f"no reading of {key!r} at {ts}", object_id=key)
        return {
            "meter": key, "reading_type": reading_type, "ts": ts, "kind": kind,
            "raw": [dict(zip(RAW, r, strict=True)) for r in raw[kind]] if kind else [],
            "validated": [_version(v) for v in done],
        }  # fmt: skip

    return api


RAW = ("version", "value", "quality", "source", "received_at")


def _version(v: Any) -> dict[str, Any]:
    return {
        "version": v.version, "value": v.value, "quality": v.quality, "method": v.method,
        "rule": v.rule, "user": v.user_id, "reason": v.reason, "created_at": v.created_at,
        "superseded_at": v.superseded_at,
    }  # fmt: skip


Apply = Callable[[UnitOfWork, SeriesRef, Who, int], EditResult]


def _edit(scope: Scope, request: Request, key: str, body: Any, apply: Apply) -> Any:
    """Resolve the series in the request's tenant and change it (or 409, nothing stored)."""
    tenant = scope.tenant(request)
    try:
        who = editor(request, body.user, body.reason)
        with scope.reader.writing(tenant) as (uow, tenant_id):
            meter_id = scope.meter(uow, tenant_id, key)
            series = SeriesRef(tenant_id, tenant, meter_id, key, body.reading_type,
                               _type_id(uow, body.reading_type), body.series_kind)  # fmt: skip
            result = apply(uow, series, who, int(time.time()))
            # subscribers get the edited values as MeterReadings changed, in this transaction
            announce_validated(uow, tenant_id, tenant, f"vee-edit-{result.audit_id}")
    except EditRefused as exc:
        return problem(409, "edit refused", str(exc), "3.1")
    except InvalidQueryError as exc:
        return problem(422, "invalid request", exc.reason, exc.code)
    return _result(key, body.reading_type, who, result)


def editor(request: Request, user: str | None, reason: str) -> Who:
    """Who changes data: the authenticated principal, or (open loopback mode) ``user``.

    Raises InvalidQueryError (422) when a named user is not the principal or none is
    named without authentication.
    """
    principal = getattr(request.state, "principal", None)
    kind = str(getattr(getattr(principal, "kind", None), "value", "loopback"))
    if principal is not None and kind != "loopback":
        name = str(principal.name)
        if user is not None and user.strip() != name:
            raise InvalidQueryError(f"user: the editor is the authenticated {name!r}")
        return Who(name, reason, name)
    if user is None:
        raise InvalidQueryError("user: required when the request is not authenticated")
    return Who(user, reason, user)


def _type_id(uow: UnitOfWork, code: str) -> int:
    found = uow.reading_types.find_ids([code]).get(code)
    if found is None:
        raise UnknownObjectError(f"unknown reading type {code!r}", object_id=code)
    return found


def _correction(
    uow: UnitOfWork, s: SeriesRef, body: schemas.CorrectionRequest
) -> tuple[dict[int, float], dict[str, Any]]:
    """The corrected values of the series' validated readings in (start, end]."""
    repo = ValidatedRepository(uow)
    found = repo.query(
        s.tenant_id, s.kind, meter_ids=[s.meter_id], reading_type_ids=[s.reading_type_id],
        start=body.start, end=body.end, after=None, limit=MAX_CORRECTED + 1,
    )  # fmt: skip
    stamps = [ts for series in found for ts in series.timestamps]
    values = [v for series in found for v in series.values]
    if not stamps:
        raise EditRefused(f"no validated readings in ({body.start}, {body.end}] to correct")
    if len(stamps) > MAX_CORRECTED:
        raise InvalidQueryError(f"the period holds more than {MAX_CORRECTED} readings")
    left = right = None
    if body.operation is Operation.INTERPOLATE:
        left, right = _neighbours(repo, s, body.start, body.end)
    new = corrected(body.operation, stamps, values, factor=body.factor, value=body.value,
                    left=left, right=right)  # fmt: skip
    detail = {"operation": body.operation.value, "start": body.start, "end": body.end,
              "factor": body.factor, "value": body.value}  # fmt: skip
    return dict(zip(stamps, new, strict=True)), detail


def _neighbours(
    repo: ValidatedRepository, s: SeriesRef, start: int, end: int
) -> tuple[tuple[int, float] | None, tuple[int, float] | None]:
    """The validated (ts, value) at or before ``start`` and the first after ``end``."""
    before = repo.previous(s.tenant_id, {(s.meter_id, s.reading_type_id): start + 1}, 366 * 86_400)
    after = repo.query(
        s.tenant_id, s.kind, meter_ids=[s.meter_id], reading_type_ids=[s.reading_type_id],
        start=end, end=None, after=None, limit=1,
    )  # fmt: skip
    right = (after[0].timestamps[0], after[0].values[0]) if after else None
    return before.get((s.meter_id, s.reading_type_id)), right


def _result(key: str, code: str, who: Who, result: EditResult) -> JSONResponse:
    c = result.counts
    return JSONResponse({
        "meter": key, "reading_type": code, "user": who.user, "reason": who.reason,
        "inserted": c.inserted, "changed": c.changed, "unchanged": c.unchanged,
        "audit_id": result.audit_id,
        "readings": [{"ts": ts, "before": result.before[ts], "after": v}
                     for ts, v in sorted(result.after.items())],
    })  # fmt: skip
