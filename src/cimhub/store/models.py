"""The store's tables as typed SQLAlchemy models, identical on SQLite and PostgreSQL.

Every timestamp (``ts``, ``created_at``, ``received_at``, …) is a BigInteger holding UTC
epoch seconds on both backends: integers compare, index and COPY fast, and mean the same
thing on SQLite (which has no time type) as on PostgreSQL. Readings carry an interval-end
``ts``. Every row except the global ReadingType reference data is scoped by ``tenant_id``.

The reading tables have no foreign keys on purpose: their ids come from the repositories,
and per-row FK checks would cost the bulk-load hot path a trigger per reading.
"""

from __future__ import annotations

import time

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: A 64-bit id that is still SQLite's auto-incrementing rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def now() -> int:
    """The current time as UTC epoch seconds, the store's one time format."""
    return int(time.time())


class Base(DeclarativeBase):
    """The one declarative base of the store."""


class Tenant(Base):
    __tablename__ = "tenant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    # Tenant settings (0003): None defers to the hub-wide setting.
    auto_register_meters: Mapped[bool | None] = mapped_column(Boolean)
    approval_codes: Mapped[bool | None] = mapped_column(Boolean)  # (0006)
    on_demand_stale_minutes: Mapped[int | None] = mapped_column(Integer)  # (0007)


class Meter(Base):
    __tablename__ = "meter"
    __table_args__ = (
        UniqueConstraint("tenant_id", "mrid", name="uq_meter_tenant_mrid"),
        Index("uq_meter_tenant_serial", "tenant_id", "serial_number", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    mrid: Mapped[str] = mapped_column(String(100))
    serial_number: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now)
    auto_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    # Master data (0003); lifecycle_stage is 'unknown' for auto-registered meters.
    make: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    meter_type: Mapped[str | None] = mapped_column(String(32))
    phases: Mapped[int | None] = mapped_column(Integer)
    ct_ratio: Mapped[float | None] = mapped_column(Double)
    pt_ratio: Mapped[float | None] = mapped_column(Double)
    dials: Mapped[int | None] = mapped_column(Integer)
    firmware: Mapped[str | None] = mapped_column(String(100))
    comm_module: Mapped[str | None] = mapped_column(String(100))
    hes: Mapped[str | None] = mapped_column(String(100))
    purchase_order: Mapped[str | None] = mapped_column(String(100))
    warranty_until: Mapped[str | None] = mapped_column(String(10))
    lot_number: Mapped[str | None] = mapped_column(String(100))
    lifecycle_stage: Mapped[str] = mapped_column(String(32), default="unknown")
    lifecycle_since: Mapped[int | None] = mapped_column(BigInteger)
    record_status: Mapped[str] = mapped_column(String(16), default="active")
    updated_at: Mapped[int | None] = mapped_column(BigInteger)


class MeterName(Base):
    """The names a meter is known by (serial number, HES id, …), unique per tenant."""

    __tablename__ = "meter_name"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_meter_name_tenant_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_type: Mapped[str | None] = mapped_column(String(64))


class ReadingType(Base):
    """An IEC 61968-9 ReadingType: global reference data, immutable once stored."""

    __tablename__ = "reading_type"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    macro_period: Mapped[int] = mapped_column(Integer)
    aggregate: Mapped[int] = mapped_column(Integer)
    measuring_period: Mapped[int] = mapped_column(Integer)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    accumulation: Mapped[int] = mapped_column(Integer)
    flow_direction: Mapped[int] = mapped_column(Integer)
    commodity: Mapped[int] = mapped_column(Integer)
    measurement_kind: Mapped[int] = mapped_column(Integer)
    tou: Mapped[int] = mapped_column(Integer)
    phases: Mapped[int] = mapped_column(Integer)
    multiplier: Mapped[int] = mapped_column(Integer)
    unit: Mapped[int] = mapped_column(Integer)
    unit_symbol: Mapped[str] = mapped_column(String(32))


class ReadingColumns:
    """The columns every reading table shares; the key is (tenant, meter, type, ts)."""

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reading_type_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    quality: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(Text, default="")
    message_log_id: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[int] = mapped_column(BigInteger)


class SupersededColumns(ReadingColumns):
    """A replaced version of a reading: the key gains ``version``."""

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    superseded_at: Mapped[int] = mapped_column(BigInteger)


# On SQLite the reading tables are WITHOUT ROWID: stored clustered by their key, as
# range queries read them. On PostgreSQL interval_reading is range-partitioned by month.
_CLUSTERED = {"sqlite_with_rowid": False}


class IntervalReading(ReadingColumns, Base):
    __tablename__ = "interval_reading"
    __table_args__ = (_CLUSTERED | {"postgresql_partition_by": "RANGE (ts)"},)


class IntervalReadingVersion(SupersededColumns, Base):
    __tablename__ = "interval_reading_version"
    __table_args__ = (_CLUSTERED,)


class RegisterReading(ReadingColumns, Base):
    """Register reads: cumulative, TOU and maximum-demand values."""

    __tablename__ = "register_reading"
    __table_args__ = (_CLUSTERED,)


class RegisterReadingVersion(SupersededColumns, Base):
    __tablename__ = "register_reading_version"
    __table_args__ = (_CLUSTERED,)


class MessageLog(Base):
    """Every message in: for idempotency (repeat → original reply), audit and replay."""

    __tablename__ = "message_log"
    # Not unique: a FAILED message may be corrected and re-sent under the same key.
    __table_args__ = (Index("ix_message_log_key", "tenant_id", "source", "message_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    message_key: Mapped[str] = mapped_column(String(200))  # MessageID, else 'sha256:<hex>'
    source: Mapped[str] = mapped_column(String(200), default="")
    verb: Mapped[str] = mapped_column(String(32))
    noun: Mapped[str] = mapped_column(String(100))
    correlation_id: Mapped[str | None] = mapped_column(String(200))
    transport: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # NULLed after retention
    result: Mapped[str | None] = mapped_column(String(16))  # OK / PARTIAL / FAILED
    reply_code: Mapped[str | None] = mapped_column(String(16))
    reply: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[int] = mapped_column(BigInteger)
    completed_at: Mapped[int | None] = mapped_column(BigInteger)


class UsagePointLink(Base):
    """A usage point a meter's readings were reported for (MeterReading/UsagePoint).

    Only what the readings say, first and last seen; the master-data issue replaces it
    with the installation history (meter ↔ usage point with start and end).
    """

    __tablename__ = "usage_point_link"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"), primary_key=True)
    usage_point: Mapped[str] = mapped_column(String(200), primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), primary_key=True)
    first_seen: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)
