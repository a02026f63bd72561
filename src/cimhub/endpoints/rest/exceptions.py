"""Exceptions, service orders and DT outages over REST (area ``exceptions``): list, read,
move, feedback.

Reads need ``rest.exceptions.read``, moves and WFM feedback ``rest.exceptions.write``; the
tenant is the principal's (the tenant header in open loopback mode). A senseless move is
409 (3.4), an unknown exception or order 404 (2.15). Every move is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cimhub.domain.exception import ExceptionKind, Status
from cimhub.domain.rule import IllegalTransitionError
from cimhub.domain.service_order import OrderStatus
from cimhub.endpoints.auth import guard
from cimhub.endpoints.rest.commands import principal_name, tenant_code
from cimhub.endpoints.rest.deps import Paging, Reader, paging
from cimhub.endpoints.rest.problems import of as problem_of
from cimhub.errors import UnknownObjectError
from cimhub.handlers.exceptions import Exceptions
from cimhub.settings import Settings
from cimhub.store.audit import AuditLog
from cimhub.store.dt_outages import DtOutageRepository
from cimhub.store.exceptions import (
    EXCEPTION,
    ORDER,
    ExceptionRepository,
    ExceptionRow,
    ServiceOrderRow,
    exception_body,
    order_body,
)
from cimhub.store.unit_of_work import UnitOfWork

AREA = "exceptions"
ExceptionId = Annotated[int, Path(ge=1, le=2**62, description="exception id")]
OrderId = Annotated[str, Path(min_length=1, max_length=100, description="service order mRID")]


class Move(BaseModel):
    status: Status = Field(description="assigned, resolved or closed")
    assignee: str | None = Field(default=None, max_length=200)
    note: str = Field(default="", max_length=2000)


class Feedback(BaseModel):
    status: OrderStatus = Field(description="accepted, in_progress, completed, closed, cancelled")
    note: str = Field(default="", max_length=2000)


def _with_meter(uow: UnitOfWork, tenant_id: int, items: list[dict[str, Any]]) -> None:
    names = uow.meters.describe(tenant_id, {i["meter_id"] for i in items})
    for item in items:
        item["meter"] = names[item["meter_id"]].key


def router(database: Any, settings: Settings) -> APIRouter:
    api = APIRouter(tags=["exceptions"], dependencies=[Depends(guard(AREA))])
    reader = Reader(database)

    def _code(request: Request) -> str:
        return tenant_code(request, settings.default_tenant)

    def _page(request: Request, model: Any, filters: dict[str, Any], page: Paging, body: Any
              ) -> dict[str, Any]:  # fmt: skip
        with reader.tenant(_code(request)) as (uow, tenant_id):
            rows, total = ExceptionRepository(uow).page(
                model, tenant_id, filters, page.limit, page.offset
            )
            items = [body(r) for r in rows]
            _with_meter(uow, tenant_id, items)
        return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}

    @api.get("/exceptions", summary="Exceptions, newest first (filter by status, kind, rule)")
    def list_exceptions(
        request: Request,
        page: Annotated[Paging, Depends(paging)],
        status: Annotated[Status | None, Query()] = None,
        kind: Annotated[ExceptionKind | None, Query()] = None,
        rule: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        filters = {"status": status and status.value, "kind": kind and kind.value, "rule": rule}
        return _page(request, ExceptionRow, filters, page, exception_body)

    @api.get("/exceptions/{exception_id}", summary="One exception with its history")
    def get_exception(exception_id: ExceptionId, request: Request) -> dict[str, Any]:
        with reader.tenant(_code(request)) as (uow, tenant_id):
            repo = ExceptionRepository(uow)
            row = repo.get(ExceptionRow, tenant_id, id=exception_id)
            if row is None:
                raise UnknownObjectError(f"unknown exception {exception_id}")
            out = exception_body(row)
            out["history"] = repo.history(tenant_id, EXCEPTION, exception_id)
            _with_meter(uow, tenant_id, [out])
        return out

    @api.post("/exceptions/{exception_id}/moves", summary="Assign, resolve or close (audited)")
    def move(exception_id: ExceptionId, request: Request, move: Move) -> JSONResponse:
        actor = principal_name(request)
        try:
            with reader.writing(_code(request)) as (uow, tenant_id):
                row = Exceptions(uow, settings).move(
                    tenant_id, exception_id, move.status, actor, assignee=move.assignee,
                    note=move.note,
                )  # fmt: skip
                out = exception_body(row)
                _audit(
                    uow, _code(request), actor, "exception.move", f"exception:{exception_id}", out
                )
        except IllegalTransitionError as exc:
            return _conflict(exc)
        return JSONResponse(out)

    @api.get("/service-orders", summary="Service orders, newest first (filter by status)")
    def list_orders(
        request: Request,
        page: Annotated[Paging, Depends(paging)],
        status: Annotated[OrderStatus | None, Query()] = None,
    ) -> dict[str, Any]:
        return _page(request, ServiceOrderRow, {"status": status and status.value}, page,
                     order_body)  # fmt: skip

    @api.get("/service-orders/{mrid}", summary="One service order with its feedback history")
    def get_order(mrid: OrderId, request: Request) -> dict[str, Any]:
        with reader.tenant(_code(request)) as (uow, tenant_id):
            repo = ExceptionRepository(uow)
            row = repo.get(ServiceOrderRow, tenant_id, mrid=mrid)
            if row is None:
                raise UnknownObjectError(f"unknown service order {mrid!r}", object_id=mrid)
            out = order_body(row)
            out["history"] = repo.history(tenant_id, ORDER, row.id)
            _with_meter(uow, tenant_id, [out])
        return out

    @api.post("/service-orders/{mrid}/feedback", summary="The WFM reports progress (audited)")
    def feedback(mrid: OrderId, request: Request, report: Feedback) -> JSONResponse:
        actor = principal_name(request)
        try:
            with reader.writing(_code(request)) as (uow, tenant_id):
                row = Exceptions(uow, settings).feedback(
                    tenant_id, mrid, report.status, actor, report.note
                )
                out = order_body(row)
                _audit(
                    uow,
                    _code(request),
                    actor,
                    "service_order.feedback",
                    f"service_order:{mrid}",
                    out,
                )
        except IllegalTransitionError as exc:
            return _conflict(exc)
        return JSONResponse(out)

    @api.get("/dt-outages", summary="DT-level outages, newest first (filter by DT, open)")
    def dt_outages(
        request: Request,
        page: Annotated[Paging, Depends(paging)],
        dt: Annotated[str | None, Query(max_length=100, description="DT code")] = None,
        open_only: Annotated[bool, Query(alias="open", description="not restored yet")] = False,
    ) -> dict[str, Any]:
        with reader.tenant(_code(request)) as (uow, tenant_id):
            items, total = DtOutageRepository(uow).listing(
                tenant_id, dt_code=dt, open_only=open_only, limit=page.limit, offset=page.offset
            )
        return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}

    return api


def _audit(uow: UnitOfWork, tenant: str, actor: str, action: str, obj: str,
           after: dict[str, Any]) -> None:  # fmt: skip
    AuditLog(uow).record(actor, action, obj, tenant=tenant, after=after)


def _conflict(exc: IllegalTransitionError) -> JSONResponse:
    response = problem_of(exc)
    response.status_code = 409
    return response
