"""Read and search tenants, hierarchy nodes, usage points, meters and their histories
(creating and changing meters and usage points: masterdata_write)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from cimhub.domain.hierarchy import Hierarchy, Level
from cimhub.domain.lifecycle import Stage
from cimhub.domain.meter import MeterType
from cimhub.domain.usage_point import Category, PaymentMode
from cimhub.endpoints.rest import masterdata_write, schemas
from cimhub.endpoints.rest.deps import Paging, Reader, bound_tenant, page_body, paging, same_tenant
from cimhub.errors import UnknownObjectError
from cimhub.store.master_queries import Page

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.Problem, "description": "unknown tenant or object (code 2.15)"},
    422: {"model": schemas.Problem, "description": "invalid parameter (code 2.4)"},
}
Tenant = Annotated[str, "the tenant (DISCOM) code"]
RecordStatus = Literal["active", "canceled", "deleted"]
RECORD = "active, or voided by cancel (entered in error) / delete (gone for CIM)"


def router(reader: Reader) -> APIRouter:
    api = APIRouter(tags=["master data"], responses=ERRORS, dependencies=[Depends(same_tenant)])

    @api.get("/tenants", response_model=list[schemas.Tenant], summary="Every tenant (yours)")
    def tenants(request: Request) -> list[dict[str, Any]]:
        bound = bound_tenant(request)  # a tenant's caller sees only its own tenant
        with reader.hub() as uow:
            return [
                {"code": t.code, "name": t.name, "auto_register_meters": t.auto_register_meters}
                for t in uow.tenants.all()
                if bound is None or t.code == bound
            ]

    @api.get("/tenants/{tenant}", response_model=schemas.TenantDetail, summary="One tenant")
    def tenant(tenant: Tenant) -> dict[str, Any]:
        with reader.tenant(tenant) as (uow, tenant_id):
            info = uow.tenants.get(tenant_id)
            queries = uow.master_queries
            return {
                "code": info.code,
                "name": info.name,
                "auto_register_meters": info.auto_register_meters,
                "meters": queries.meters(tenant_id, {}, limit=0, offset=0).total,
                "usage_points": queries.usage_points(tenant_id, {}, limit=0, offset=0).total,
                "hierarchy_nodes": uow.hierarchy.count(tenant_id),
            }

    @api.get(
        "/tenants/{tenant}/hierarchy/nodes",
        response_model=schemas.PageOfNodes,
        summary="Hierarchy nodes, filtered and paged",
    )
    def nodes(
        request: Request,
        tenant: Tenant,
        page: Annotated[Paging, Depends(paging)],
        hierarchy: Hierarchy | None = None,
        level: Level | None = None,
        parent: Annotated[str | None, Query(description="children of this node code")] = None,
        as_of: Annotated[
            int | None, Query(description="only nodes in effect then (UTC epoch seconds)")
        ] = None,
    ) -> dict[str, Any]:
        filters = {"hierarchy": hierarchy, "level": level, "parent": parent, "as_of": as_of}
        return _paged(reader, tenant, request, page, "nodes", filters)

    @api.get(
        "/tenants/{tenant}/hierarchy/nodes/{code}",
        response_model=schemas.Node,
        summary="One hierarchy node",
    )
    def node(tenant: Tenant, code: str) -> dict[str, Any]:
        with reader.tenant(tenant) as (uow, tenant_id):
            found = uow.master_queries.nodes(tenant_id, {"code": code}, limit=1, offset=0)
            return _one(found.items, "hierarchy node", code)

    @api.get(
        "/tenants/{tenant}/usage-points",
        response_model=schemas.PageOfUsagePoints,
        summary="Usage points, filtered and paged",
    )
    def usage_points(
        request: Request,
        tenant: Tenant,
        page: Annotated[Paging, Depends(paging)],
        category: Category | None = None,
        tariff_code: str | None = None,
        payment_mode: PaymentMode | None = None,
        status: str | None = None,
        metered: bool | None = None,
        net_metering: bool | None = None,
        dt: Annotated[str | None, Query(description="DT node code")] = None,
        feeder: Annotated[str | None, Query(description="feeder node code")] = None,
        org: Annotated[str | None, Query(description="organisation unit code")] = None,
        record_status: Annotated[RecordStatus | None, Query(description=RECORD)] = None,
    ) -> dict[str, Any]:
        filters = {
            "category": category, "tariff_code": tariff_code, "payment_mode": payment_mode,
            "status": status, "metered": metered, "net_metering": net_metering, "dt": dt,
            "feeder": feeder, "org": org, "record_status": record_status,
        }  # fmt: skip
        return _paged(reader, tenant, request, page, "usage_points", filters)

    @api.get(
        "/tenants/{tenant}/usage-points/{key}",
        response_model=schemas.UsagePointDetail,
        summary="One usage point (by mRID or consumer number) with its installation history",
    )
    def usage_point(tenant: Tenant, key: str) -> dict[str, Any]:
        with reader.tenant(tenant) as (uow, tenant_id):
            found = uow.master_queries.usage_points_by_keys(tenant_id, [key], retired=True)
            point = _one(list(found.values()), "usage point", key)
            point["installations"] = uow.master_queries.installations(
                tenant_id, usage_point_id=point["id"]
            )
            return point

    @api.get(
        "/tenants/{tenant}/meters",
        response_model=schemas.PageOfMeters,
        summary="Meters, filtered and paged",
    )
    def meters(
        request: Request,
        tenant: Tenant,
        page: Annotated[Paging, Depends(paging)],
        lifecycle_stage: Stage | None = None,
        make: str | None = None,
        meter_type: MeterType | None = None,
        hes: str | None = None,
        auto_registered: bool | None = None,
        serial: Annotated[str | None, Query(description="serial number prefix")] = None,
        usage_point: Annotated[
            str | None, Query(description="installed at (mRID / consumer no.)")
        ] = None,
        record_status: Annotated[RecordStatus | None, Query(description=RECORD)] = None,
    ) -> dict[str, Any]:
        filters = {
            "lifecycle_stage": lifecycle_stage, "make": make, "meter_type": meter_type,
            "hes": hes, "auto_registered": auto_registered, "serial": serial,
            "usage_point": usage_point, "record_status": record_status,
        }  # fmt: skip
        return _paged(reader, tenant, request, page, "meters", filters)

    @api.get(
        "/tenants/{tenant}/meters/{key}",
        response_model=schemas.MeterDetail,
        summary="One meter (by mRID, serial or name) with lifecycle and installation history",
    )
    def meter(tenant: Tenant, key: str) -> dict[str, Any]:
        with reader.tenant(tenant) as (uow, tenant_id):
            found = uow.master_queries.meters_by_keys(tenant_id, [key], retired=True)
            item = _one(list(found.values()), "meter", key)
            item["lifecycle"] = uow.lifecycle.history(tenant_id, item["id"])
            item["installations"] = uow.master_queries.installations(tenant_id, meter_id=item["id"])
            return item

    @api.get(
        "/tenants/{tenant}/meters/{key}/lifecycle",
        response_model=list[schemas.LifecycleEvent],
        summary="A meter's lifecycle history: every move with who, when and why",
    )
    def lifecycle(tenant: Tenant, key: str) -> list[dict[str, Any]]:
        with reader.tenant(tenant) as (uow, tenant_id):
            item = _one(
                list(uow.master_queries.meters_by_keys(tenant_id, [key], retired=True).values()),
                "meter",
                key,
            )
            return uow.lifecycle.history(tenant_id, item["id"])

    api.include_router(masterdata_write.router(reader))  # POST / PATCH meters, usage points
    return api


def _paged(
    reader: Reader, tenant: str, request: Request, page: Paging, what: str, filters: dict[str, Any]
) -> dict[str, Any]:
    given = {
        k: (v.value if hasattr(v, "value") else v) for k, v in filters.items() if v is not None
    }
    with reader.tenant(tenant) as (uow, tenant_id):
        found: Page = getattr(uow.master_queries, what)(
            tenant_id, given, limit=page.limit, offset=page.offset
        )
        return page_body(found, request)


def _one(items: list[dict[str, Any]], what: str, key: str) -> dict[str, Any]:
    if not items:
        raise UnknownObjectError(f"unknown {what} {key!r}", object_id=key)
    return items[0]
