"""Master-data tables (0003): hierarchy nodes, usage points, installations, lifecycle history.

Times are UTC epoch seconds like everywhere in the store; every row is tenant-scoped.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId, now


class HierarchyNode(Base):
    """A node of the organisation or network hierarchy, coded and parent-linked."""

    __tablename__ = "hierarchy_node"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code", name="uq_hierarchy_node_code"),
        Index("ix_hierarchy_node_parent", "tenant_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    hierarchy: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("hierarchy_node.id"))
    valid_from: Mapped[int | None] = mapped_column(BigInteger)
    valid_to: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    updated_at: Mapped[int | None] = mapped_column(BigInteger)


class UsagePoint(Base):
    """A consumer connection (or a non-metered service point)."""

    __tablename__ = "usage_point"
    __table_args__ = (
        UniqueConstraint("tenant_id", "mrid", name="uq_usage_point_mrid"),
        Index("uq_usage_point_consumer", "tenant_id", "consumer_number", unique=True),
        Index("ix_usage_point_dt", "tenant_id", "dt_node_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    mrid: Mapped[str] = mapped_column(String(100))
    consumer_number: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(32))
    sanctioned_load: Mapped[float | None] = mapped_column(Double)
    load_unit: Mapped[str | None] = mapped_column(String(8))
    tariff_code: Mapped[str | None] = mapped_column(String(64))
    payment_mode: Mapped[str | None] = mapped_column(String(16))
    net_metering: Mapped[bool | None] = mapped_column(Boolean)
    pv_capacity_kw: Mapped[float | None] = mapped_column(Double)
    supply_voltage: Mapped[float | None] = mapped_column(Double)
    dt_node_id: Mapped[int | None] = mapped_column(ForeignKey("hierarchy_node.id"))
    feeder_node_id: Mapped[int | None] = mapped_column(ForeignKey("hierarchy_node.id"))
    org_node_id: Mapped[int | None] = mapped_column(ForeignKey("hierarchy_node.id"))
    latitude: Mapped[float | None] = mapped_column(Double)
    longitude: Mapped[float | None] = mapped_column(Double)
    metered: Mapped[bool] = mapped_column(Boolean, default=True)
    connected_load_kw: Mapped[float | None] = mapped_column(Double)
    operating_hours: Mapped[float | None] = mapped_column(Double)
    status: Mapped[str | None] = mapped_column(String(32))
    connected_on: Mapped[int | None] = mapped_column(BigInteger)
    record_status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    updated_at: Mapped[int | None] = mapped_column(BigInteger)


class Installation(Base):
    """A meter at a usage point or network node over [start_ts, end_ts)."""

    __tablename__ = "installation"
    __table_args__ = (
        Index("ix_installation_meter", "tenant_id", "meter_id", "start_ts"),
        Index("ix_installation_usage_point", "tenant_id", "usage_point_id", "start_ts"),
        Index("ix_installation_node", "tenant_id", "node_id", "start_ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    usage_point_id: Mapped[int | None] = mapped_column(ForeignKey("usage_point.id"))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("hierarchy_node.id"))
    role: Mapped[str] = mapped_column(String(16))
    start_ts: Mapped[int] = mapped_column(BigInteger)
    end_ts: Mapped[int | None] = mapped_column(BigInteger)
    canceled: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(200), default="")
    end_reason: Mapped[str] = mapped_column(String(200), default="")
    changed_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)


class MeterLifecycleEvent(Base):
    """One move of a meter between lifecycle stages: who, when, why."""

    __tablename__ = "meter_lifecycle_event"
    __table_args__ = (Index("ix_meter_lifecycle_meter", "tenant_id", "meter_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    at: Mapped[int] = mapped_column(BigInteger)
    changed_by: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    recorded_at: Mapped[int] = mapped_column(BigInteger, default=now)
