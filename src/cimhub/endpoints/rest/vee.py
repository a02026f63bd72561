"""VEE over REST: findings (filtered, paged, one with its readings, reviewed by a person).

Every route works in the request's tenant (the authenticated principal's; in open loopback
mode the ``X-Cimhub-Tenant`` header's or the default): an identifier of another tenant's
meter or finding is unknown (404). Edits of validated readings are in ``edits``, the rule
configuration in ``vee_rules``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request

from cimhub.domain.reading import MeterRef
from cimhub.endpoints.auth import guard
from cimhub.endpoints.rest import edits, vee_rules
from cimhub.endpoints.rest import vee_schemas as schemas
from cimhub.endpoints.rest.deps import Paging, Reader, page_body, paging
from cimhub.endpoints.rest.problems import problem
from cimhub.endpoints.rest.schemas import Problem
from cimhub.errors import InvalidQueryError, UnknownObjectError
from cimhub.settings import Settings
from cimhub.store.audit import AuditLog
from cimhub.store.database import Database
from cimhub.store.findings import FindingFilter, FindingRepository, StoredFinding
from cimhub.store.master_queries import Page
from cimhub.store.unit_of_work import UnitOfWork
from cimhub.store.vee import VeeService, failures_report
from cimhub.store.vee_edits import Who
from cimhub.vee.finding import Review, ReviewRefused, Severity, review_move

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "unknown meter, usage point or finding (2.15)"},
    422: {"model": Problem, "description": "invalid parameter (code 2.4)"},
}
#: StoredFinding fields shown as they are (meter and reading type are shown by name)
PUBLIC = tuple(n for n in StoredFinding.__slots__ if n not in ("meter_id", "reading_type_id"))
EPOCH = date(1970, 1, 1)
FindingId = Annotated[int, Path(ge=1, le=2**62, description="the finding's id")]


def mount(app: FastAPI, database: Database, settings: Settings, prefix: str = "/api/v1") -> None:
    """Add the VEE routes (permission area ``vee``) to ``app``."""
    from cimhub.handlers.meter_readings import vee_service

    reader = Reader(database)
    service = vee_service(settings)
    scope = Scope(reader, settings, service)
    for api in (router(scope), edits.router(scope), vee_rules.router(scope)):
        app.include_router(api, prefix=prefix, dependencies=[Depends(guard("vee"))])


class Scope:
    """What the VEE routes share: the store, the settings, the VEE service."""

    def __init__(self, reader: Reader, settings: Settings, service: VeeService) -> None:
        self.reader = reader
        self.settings = settings
        self.service = service

    def tenant(self, request: Request) -> str:
        """The request's tenant: its principal's; without one the header's or the default."""
        principal = getattr(request.state, "principal", None)
        if principal is not None:
            return str(principal.tenant)
        header = request.headers.get("X-Cimhub-Tenant", "").strip()
        return header or self.settings.default_tenant

    def meter(self, uow: UnitOfWork, tenant_id: int, key: str) -> int:
        """The id of the tenant's meter named ``key`` (mRID or any name), else 404."""
        [found] = uow.meters.find(tenant_id, [MeterRef(key, (key,))])
        if found is None:
            raise UnknownObjectError(f"unknown meter {key!r}", object_id=key)
        return found


def router(scope: Scope) -> APIRouter:
    api = APIRouter(tags=["VEE"], responses=ERRORS)

    @api.get(
        "/vee/findings",
        response_model=schemas.PageOfFindings,
        summary="VEE findings of the tenant, filtered and paged (oldest first)",
    )
    def findings(
        request: Request,
        page: Annotated[Paging, Depends(paging)],
        meter: Annotated[
            list[str] | None, Query(description="meter mRID or name (repeatable)", max_length=100)
        ] = None,
        usage_point: Annotated[
            str | None,
            Query(description="usage point mRID or consumer number: its meters while there"),
        ] = None,
        rule: Annotated[list[str] | None, Query(description="rule id (repeatable)")] = None,
        severity: Annotated[list[Severity] | None, Query(description="repeatable")] = None,
        status: Annotated[
            Literal["open", "cleared", "all"],
            Query(description="open: still found; cleared: no longer found by a later run"),
        ] = "open",
        review: Annotated[
            list[Review] | None, Query(description="new, acknowledged, closed (repeatable)")
        ] = None,
        start: Annotated[
            int | None, Query(ge=0, description="overlapping (start, end]: UTC epoch s")
        ] = None,
        end: Annotated[int | None, Query(ge=0, description="UTC epoch seconds")] = None,
    ) -> dict[str, Any]:
        with scope.reader.tenant(scope.tenant(request)) as (uow, tenant_id):
            where = _filter(scope, uow, tenant_id, meter, usage_point)
            where = replace(
                where, rules=rule, severities=[s.value for s in severity] if severity else None,
                reviews=[r.value for r in review] if review else None,
                status=None if status == "all" else status, start=start, end=end,
            )  # fmt: skip
            found, total = FindingRepository(uow).page(
                tenant_id, where, limit=page.limit, offset=page.offset
            )
            items = _public(uow, tenant_id, found)
        return page_body(Page(items, total, page.limit, page.offset), request)

    @api.get(
        "/vee/report",
        response_model=schemas.FailuresReport,
        summary="The daily VEE failures report: findings first seen on a local day",
    )
    def report(
        request: Request,
        day: Annotated[
            date | None,
            Query(description="the tenant's local day (VEE's utc_offset_minutes); "
                  "default: yesterday"),
        ] = None,
    ) -> dict[str, Any]:  # fmt: skip
        tenant = scope.tenant(request)
        with scope.reader.tenant(tenant) as (uow, tenant_id):
            params = scope.service.for_tenant(uow, tenant_id, tenant).config.params(tenant)
            offset = params.utc_offset_minutes * 60
            wanted = day or EPOCH + timedelta(days=(int(time.time()) + offset) // 86_400 - 1)
            start = (wanted - EPOCH).days * 86_400 - offset
            counts = failures_report(uow, tenant_id, start, start + 86_400)
        return {"tenant": tenant, "day": wanted.isoformat(), **counts}

    @api.get(
        "/vee/findings/{finding_id}",
        response_model=schemas.FindingDetail,
        summary="One VEE finding with every reading it concerns",
    )
    def finding(request: Request, finding_id: FindingId) -> dict[str, Any]:
        with scope.reader.tenant(scope.tenant(request)) as (uow, tenant_id):
            return _detail(uow, tenant_id, finding_id)

    @api.post(
        "/vee/findings/{finding_id}/review",
        response_model=schemas.FindingDetail,
        summary="Acknowledge or close a finding (who, when and a note; audited)",
        responses={409: {"model": Problem, "description": "review refused (3.1)"}},
    )
    def review_finding(request: Request, finding_id: FindingId, body: schemas.ReviewRequest) -> Any:
        tenant = scope.tenant(request)
        try:
            who = edits.editor(request, body.user, body.note)
            with scope.reader.writing(tenant) as (uow, tenant_id):
                return _review(uow, tenant, tenant_id, finding_id, Review(body.review), who)
        except ReviewRefused as exc:
            return problem(409, "review refused", str(exc), "3.1")
        except InvalidQueryError as exc:
            return problem(422, "invalid request", exc.reason, exc.code)

    return api


def _detail(uow: UnitOfWork, tenant_id: int, finding_id: int) -> dict[str, Any]:
    found = FindingRepository(uow).one(tenant_id, finding_id)
    if found is None:
        raise UnknownObjectError(f"unknown finding {finding_id}", object_id=str(finding_id))
    stored, stamps = found
    return {**_public(uow, tenant_id, [stored])[0], "timestamps": stamps}


def _review(
    uow: UnitOfWork, tenant: str, tenant_id: int, finding_id: int, target: Review, who: Who
) -> dict[str, Any]:
    """Move the finding's review to ``target`` and audit it; the finding as it is now."""
    before = _detail(uow, tenant_id, finding_id)
    if not who.user.strip() or not who.reason.strip():
        raise ReviewRefused("a review must name its user and give a note")
    review_move(Review(before["review"]), target)
    now = int(time.time())
    FindingRepository(uow).review(
        tenant_id, finding_id, target.value, by=who.user, note=who.reason, now=now
    )
    AuditLog(uow).record(
        who.actor, "vee.finding.review", f"finding:{finding_id}", tenant=tenant,
        before={"review": before["review"]},
        after={"review": target.value, "user": who.user, "note": who.reason},
        at=now,
    )  # fmt: skip
    return _detail(uow, tenant_id, finding_id)


def _filter(
    scope: Scope, uow: UnitOfWork, tenant_id: int, meters: list[str] | None, usage_point: str | None
) -> FindingFilter:
    """The meters asked for (by key, or a usage point's with their windows there)."""
    ids = [scope.meter(uow, tenant_id, key) for key in meters] if meters else None
    if usage_point is None:
        return FindingFilter(meter_ids=ids)
    stays = uow.usage_points.stays_of(tenant_id, [MeterRef(usage_point, (usage_point,))])[0]
    if not stays:
        raise UnknownObjectError(f"unknown usage point {usage_point!r}", object_id=usage_point)
    wanted = [m for m in stays if ids is None or m in ids]
    windows = {m: w for m, w in stays.items() if w is not None and m in wanted}
    return FindingFilter(meter_ids=wanted, windows=windows)


def _public(uow: UnitOfWork, tenant_id: int, found: list[StoredFinding]) -> list[dict[str, Any]]:
    names = uow.meters.describe(tenant_id, {f.meter_id for f in found})
    codes = uow.reading_types.codes_for({f.reading_type_id for f in found})
    return [
        {
            **{k: getattr(f, k) for k in PUBLIC},
            "meter": names[f.meter_id].key,
            "reading_type": codes[f.reading_type_id],
            "status": "open" if f.cleared_at is None else "cleared",
        }
        for f in found
    ]
