"""Event tables (0003_events): meter events, the outages derived from them, tenant settings."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId


class EventRow(Base):
    """One EndDeviceEvent; (tenant, meter, type, ts) is its natural key."""

    __tablename__ = "end_device_event"
    __table_args__ = (
        UniqueConstraint("tenant_id", "meter_id", "event_type", "ts", name="uq_end_device_event"),
        Index("ix_end_device_event_ts", "tenant_id", "meter_id", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    meter_id: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(100))  # CIM code, or as received
    ts: Mapped[int] = mapped_column(BigInteger)  # createdDateTime
    mapped: Mapped[bool] = mapped_column(Boolean)
    priority: Mapped[str] = mapped_column(String(8))
    severity: Mapped[str] = mapped_column(String(40))
    mrid: Mapped[str | None] = mapped_column(String(100))
    vendor_code: Mapped[str | None] = mapped_column(String(40))
    vendor_group: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    usage_point: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[str] = mapped_column(Text)  # JSON object of the other details
    source: Mapped[str] = mapped_column(String(100))
    message_log_id: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[int] = mapped_column(BigInteger)


class OutageRow(Base):
    """One outage of one meter, re-derived whenever that meter's power events change."""

    __tablename__ = "meter_outage"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    end: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    derived_at: Mapped[int] = mapped_column(BigInteger)


class EventConfigRow(Base):
    """A tenant's event settings: the momentary/sustained outage threshold."""

    __tablename__ = "event_config"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    momentary_seconds: Mapped[int] = mapped_column(Integer)


class PowerReporterRow(Base):
    """A head-end that has sent power events (0006_power_reporters): its meters' outages
    count as known to VEE from ``since`` on, so a meter of it without outage rows after
    that time had no outage."""

    __tablename__ = "power_event_reporter"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hes: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: the time (createdDateTime) of the earliest power event of its meters (0006_reporter_since)
    since: Mapped[int] = mapped_column(BigInteger)
