"""Command tables (0004_controls): commands, their moves, head-end endpoints, dispatches."""

from __future__ import annotations

from sqlalchemy import BigInteger, Double, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId


class CommandRow(Base):
    """One EndDeviceControl for one meter; (tenant, mRID) is its natural key."""

    __tablename__ = "end_device_control"
    __table_args__ = (
        UniqueConstraint("tenant_id", "mrid", name="uq_end_device_control"),
        Index("ix_end_device_control_state", "tenant_id", "state"),
        Index("ix_end_device_control_meter", "tenant_id", "meter_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    mrid: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    control_type: Mapped[str] = mapped_column(String(40))
    meter_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    requester: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    demand_limit_w: Mapped[float | None] = mapped_column(Double)
    correlation_id: Mapped[str | None] = mapped_column(String(200))
    hes: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[int | None] = mapped_column(BigInteger)
    message_log_id: Mapped[int | None] = mapped_column(BigInteger)
    period_start: Mapped[int | None] = mapped_column(BigInteger)  # a read's (start, end] (0006)
    period_end: Mapped[int | None] = mapped_column(BigInteger)
    reading_types: Mapped[str | None] = mapped_column(
        Text
    )  # a read's codes, space-separated (0007)


class TransitionRow(Base):
    """One move of one command: the state it reached, when, by whom and why."""

    __tablename__ = "end_device_control_transition"
    __table_args__ = (Index("ix_edc_transition_command", "command_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    command_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20))
    at: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")


class HesEndpointRow(Base):
    """Where a tenant's head-end takes commands: kind soap | http | mqtt, URL or vendor."""

    __tablename__ = "hes_endpoint"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text, default="")
    vendor: Mapped[str | None] = mapped_column(String(100))  # MQTT vendor profile
    #: How a CIM head-end is asked for a read: get (GetMeterReadings) | control (3.21.0.8)
    read_as: Mapped[str] = mapped_column(String(8), default="get", server_default="get")  # (0007)


class DispatchRow(Base):
    """The command outbox: a command to hand to its head-end, written with the command."""

    __tablename__ = "hes_dispatch"
    __table_args__ = (Index("ix_hes_dispatch_due", "done_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    command_id: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Double)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    done_at: Mapped[int | None] = mapped_column(BigInteger)
