"""Create and change meters and usage points over REST, through the same store functions
as MeterConfig / UsagePointConfig create and change, in one transaction with an audit entry.

A route needs its area's ``rest.masterdata.write`` (the router's guard) and the permission
the CIM message doing the same would need (``MeterConfig.create``, ``UsagePointConfig.change``
…). Refusals carry the CIM codes: 2.15 unknown (404), 3.3 duplicate, 3.4 illegal lifecycle
move, 2.1 invalid value (400). Installing meters stays with MasterDataLinkageConfig.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from cimhub.domain.access import Principal, message_permission
from cimhub.domain.lifecycle import Stage
from cimhub.domain.meter import MeterSpec, MeterType
from cimhub.domain.usage_point import Category, PaymentMode, UsagePointSpec
from cimhub.endpoints.auth import authenticate, require
from cimhub.endpoints.rest import schemas
from cimhub.endpoints.rest.deps import Reader
from cimhub.errors import UnknownObjectError
from cimhub.store.audit import AuditLog
from cimhub.store.meter_assets import Mode
from cimhub.store.unit_of_work import UnitOfWork


class MeterChange(BaseModel):
    """Meter attributes to set; a field left out keeps its stored value."""

    model_config = ConfigDict(extra="forbid")

    serial_number: str | None = Field(None, max_length=100)
    make: str | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=100)
    meter_type: MeterType | None = None
    phases: int | None = None
    ct_ratio: float | None = None
    pt_ratio: float | None = None
    dials: int | None = None
    firmware: str | None = Field(None, max_length=100)
    comm_module: str | None = Field(None, max_length=100)
    hes: str | None = Field(None, max_length=100)
    purchase_order: str | None = Field(None, max_length=100)
    warranty_until: str | None = Field(None, description="ISO date", max_length=10)
    lot_number: str | None = Field(None, max_length=100)
    stage: Stage | None = Field(None, description="lifecycle stage to move to")
    stage_at: int | None = Field(None, description="when the move happened (epoch s)")
    reason: str | None = Field(None, max_length=200)


class MeterNew(MeterChange):
    mrid: str | None = Field(None, max_length=100, description="default: the serial number")


class UsagePointChange(BaseModel):
    """Usage point attributes to set; a field left out keeps its stored value."""

    model_config = ConfigDict(extra="forbid")

    consumer_number: str | None = Field(None, max_length=100)
    name: str | None = None
    address: str | None = None
    mobile: str | None = None
    email: str | None = None
    category: Category | None = None
    sanctioned_load: float | None = None
    load_unit: str | None = Field(None, pattern="^(kW|kVA)$")
    tariff_code: str | None = None
    payment_mode: PaymentMode | None = None
    net_metering: bool | None = None
    pv_capacity_kw: float | None = None
    supply_voltage: float | None = None
    dt_code: str | None = Field(None, description="distribution transformer node code")
    feeder_code: str | None = None
    org_code: str | None = Field(None, description="organisation unit node code")
    latitude: float | None = None
    longitude: float | None = None
    metered: bool | None = None
    connected_load_kw: float | None = None
    operating_hours: float | None = None
    status: str | None = None
    connected_on: int | None = None


class UsagePointNew(UsagePointChange):
    mrid: str | None = Field(None, max_length=100, description="default: the consumer number")


def may(noun: str, verb: str) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency: the caller holds the permission of the CIM message ``noun``.``verb``."""

    async def dependency(request: Request) -> Principal:
        principal = getattr(request.state, "principal", None) or await authenticate(request)
        require(principal, message_permission(noun, verb))
        return principal  # type: ignore[no-any-return]

    return dependency


def router(reader: Reader) -> APIRouter:
    api = APIRouter(tags=["master data"])

    @api.post(
        "/tenants/{tenant}/meters",
        status_code=201,
        response_model=schemas.MeterDetail,
        summary="Create a meter (as CreateMeterConfig; permission MeterConfig.create)",
    )
    def create_meter(
        tenant: str,
        meter: MeterNew,
        principal: Annotated[Principal, Depends(may("MeterConfig", "create"))],
    ) -> dict[str, Any]:
        spec = _meter_spec(meter, None, principal)
        return _save_meter(reader, tenant, spec, Mode.CREATE, principal, meter)

    @api.patch(
        "/tenants/{tenant}/meters/{key}",
        response_model=schemas.MeterDetail,
        summary="Change a meter by mRID, serial or name (as ChangeMeterConfig)",
    )
    def change_meter(
        tenant: str,
        key: str,
        meter: MeterChange,
        principal: Annotated[Principal, Depends(may("MeterConfig", "change"))],
    ) -> dict[str, Any]:
        spec = _meter_spec(meter, key, principal)
        return _save_meter(reader, tenant, spec, Mode.CHANGE, principal, meter)

    @api.post(
        "/tenants/{tenant}/usage-points",
        status_code=201,
        response_model=schemas.UsagePointDetail,
        summary="Create a usage point (as CreateUsagePointConfig)",
    )
    def create_usage_point(
        tenant: str,
        point: UsagePointNew,
        principal: Annotated[Principal, Depends(may("UsagePointConfig", "create"))],
    ) -> dict[str, Any]:
        return _save_point(reader, tenant, None, point, principal)

    @api.patch(
        "/tenants/{tenant}/usage-points/{key}",
        response_model=schemas.UsagePointDetail,
        summary="Change a usage point by mRID or consumer number (as ChangeUsagePointConfig)",
    )
    def change_usage_point(
        tenant: str,
        key: str,
        point: UsagePointChange,
        principal: Annotated[Principal, Depends(may("UsagePointConfig", "change"))],
    ) -> dict[str, Any]:
        return _save_point(reader, tenant, key, point, principal)

    return api


def _meter_spec(body: MeterChange, key: str | None, principal: Principal) -> MeterSpec:
    given = body.model_dump(exclude_unset=True)
    if key is not None:  # PATCH: the path names the meter, the body only changes it
        given["mrid"] = key
    if given.get("stage") is not None:
        given.setdefault("stage_at", int(time.time()))
    return MeterSpec(**given, changed_by=principal.name)


def _save_meter(
    reader: Reader, tenant: str, spec: MeterSpec, mode: Mode, who: Principal, body: BaseModel
) -> dict[str, Any]:
    with reader.writing(tenant) as (uow, tenant_id):
        before = _meter(uow, tenant_id, spec.key) if mode is Mode.CHANGE else None
        if before is not None:  # named by serial or name: change the meter it names
            spec = MeterSpec(**{**_fields(spec), "mrid": before["mrid"]})
        uow.meter_assets.save(tenant_id, [spec], mode, source=f"REST by {who.name}")
        after = _meter(uow, tenant_id, spec.mrid or spec.key)
        assert after is not None
        _audit(uow, who, tenant, f"MeterConfig.{mode.value}", f"meter:{after['mrid']}",
               before, body)  # fmt: skip
        after["lifecycle"] = uow.lifecycle.history(tenant_id, after["id"])
        after["installations"] = uow.master_queries.installations(tenant_id, meter_id=after["id"])
        return after


def _save_point(
    reader: Reader, tenant: str, key: str | None, body: BaseModel, who: Principal
) -> dict[str, Any]:
    """Create (``key`` None) or change the usage point ``key`` (mRID or consumer number)."""
    changes = body.model_dump(exclude_unset=True)
    mode = Mode.CREATE if key is None else Mode.CHANGE
    with reader.writing(tenant) as (uow, tenant_id):
        queries = uow.master_queries
        before = queries.usage_points_by_keys(tenant_id, [key]).get(key) if key else None
        if key is not None:
            if before is None:
                raise UnknownObjectError(f"unknown usage point {key!r}", object_id=key)
            changes["mrid"] = before["mrid"]
        spec = UsagePointSpec(**changes)
        uow.usage_points.save(tenant_id, [spec], mode)
        after = queries.usage_points_by_keys(tenant_id, [spec.key])[spec.key]
        _audit(uow, who, tenant, f"UsagePointConfig.{mode.value}", f"usage point:{after['mrid']}",
               before, body)  # fmt: skip
        after["installations"] = queries.installations(tenant_id, usage_point_id=after["id"])
        return after


def _meter(uow: UnitOfWork, tenant_id: int, key: str) -> dict[str, Any] | None:
    return uow.master_queries.meters_by_keys(tenant_id, [key]).get(key)


def _fields(spec: MeterSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in MeterSpec.__dataclass_fields__}


def _audit(
    uow: UnitOfWork,
    who: Principal,
    tenant: str,
    action: str,
    obj: str,
    before: dict[str, Any] | None,
    body: BaseModel,
) -> None:
    """Who changed what over REST: the stored record before, and what the request set."""
    AuditLog(uow).record(
        who.name,
        action,
        obj,
        tenant=tenant,
        before=None if before is None else {k: v for k, v in before.items() if k != "id"},
        after={"via": "REST", **body.model_dump(mode="json", exclude_unset=True)},
    )
