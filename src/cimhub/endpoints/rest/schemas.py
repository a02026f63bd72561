"""The API's response shapes (they make the OpenAPI document). Times: UTC epoch seconds."""

from __future__ import annotations

from pydantic import BaseModel


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str | None = None


class Tenant(BaseModel):
    code: str
    name: str
    auto_register_meters: bool | None = None


class TenantDetail(Tenant):
    meters: int
    usage_points: int
    hierarchy_nodes: int


class Node(BaseModel):
    code: str
    name: str
    hierarchy: str
    level: str
    parent: str | None = None
    valid_from: int | None = None
    valid_to: int | None = None


class ActiveMeter(BaseModel):
    mrid: str
    serial_number: str | None = None
    role: str
    since: int


class UsagePoint(BaseModel):
    mrid: str
    consumer_number: str | None = None
    name: str | None = None
    address: str | None = None
    mobile: str | None = None
    email: str | None = None
    category: str | None = None
    sanctioned_load: float | None = None
    load_unit: str | None = None
    tariff_code: str | None = None
    payment_mode: str | None = None
    net_metering: bool | None = None
    pv_capacity_kw: float | None = None
    supply_voltage: float | None = None
    dt: str | None = None
    feeder: str | None = None
    org: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    metered: bool
    connected_load_kw: float | None = None
    operating_hours: float | None = None
    status: str | None = None
    connected_on: int | None = None
    record_status: str
    meters: list[ActiveMeter] = []


class Meter(BaseModel):
    mrid: str
    serial_number: str | None = None
    make: str | None = None
    model: str | None = None
    meter_type: str | None = None
    phases: int | None = None
    ct_ratio: float | None = None
    pt_ratio: float | None = None
    dials: int | None = None
    firmware: str | None = None
    comm_module: str | None = None
    hes: str | None = None
    purchase_order: str | None = None
    warranty_until: str | None = None
    lot_number: str | None = None
    lifecycle_stage: str
    lifecycle_since: int | None = None
    auto_registered: bool
    record_status: str
    usage_point: str | None = None
    node: str | None = None
    role: str | None = None


class LifecycleEvent(BaseModel):
    from_stage: str | None = None
    to_stage: str
    at: int
    changed_by: str
    reason: str
    source: str


class InstallationOut(BaseModel):
    meter: str
    usage_point: str | None = None
    node: str | None = None
    role: str
    start_ts: int
    end_ts: int | None = None
    reason: str
    end_reason: str
    changed_by: str


class MeterDetail(Meter):
    lifecycle: list[LifecycleEvent]
    installations: list[InstallationOut]


class UsagePointDetail(UsagePoint):
    installations: list[InstallationOut]


class PageOfNodes(BaseModel):
    items: list[Node]
    total: int
    limit: int
    offset: int
    next: str | None = None


class PageOfUsagePoints(BaseModel):
    items: list[UsagePoint]
    total: int
    limit: int
    offset: int
    next: str | None = None


class PageOfMeters(BaseModel):
    items: list[Meter]
    total: int
    limit: int
    offset: int
    next: str | None = None
