"""Billing tables (0003_billing): tenant billing configuration versions, daily aggregates,
cycle determinants and the record of what was exported to whom; the prepaid feed's record
(0004_prepaid_feed)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base


class BillingConfigRow(Base):
    """One version of a tenant's billing configuration; the highest is in force."""

    __tablename__ = "billing_config"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # JSON
    changed_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


class BillingDaily(Base):
    """Daily determinants of one meter's stay at one usage point on one local day."""

    __tablename__ = "billing_daily"
    __table_args__ = (Index("ix_billing_daily_meter", "tenant_id", "meter_id", "day"),)

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    usage_point_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # days since 1970-01-01
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    calendar: Mapped[str] = mapped_column(String(100))
    data: Mapped[str] = mapped_column(Text)  # JSON of cimhub.billing.daily.Day
    computed_at: Mapped[int] = mapped_column(BigInteger)


class BillingDeterminant(Base):
    """Determinants of one usage point for one cycle, with its bill-readiness verdict."""

    __tablename__ = "billing_determinant"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle: Mapped[str] = mapped_column(String(16), primary_key=True)
    usage_point_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    ready: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[str] = mapped_column(Text)  # JSON summary (kWh, kW, …)
    computed_at: Mapped[int] = mapped_column(BigInteger)


class BillingExport(Base):
    """One usage point's determinants of a cycle sent to one subscriber: never twice."""

    __tablename__ = "billing_export"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle: Mapped[str] = mapped_column(String(16), primary_key=True)
    subscription: Mapped[str] = mapped_column(String(100), primary_key=True)
    usage_point_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exported_at: Mapped[int] = mapped_column(BigInteger)


class PrepaidFeedRow(Base):
    """One usage point's day sent to one prepaid subscriber (0004_prepaid_feed); the digest
    of what was sent tells a late edit (sent again as `changed`) from a re-run (not sent)."""

    __tablename__ = "billing_prepaid_feed"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # days since 1970-01-01
    subscription: Mapped[str] = mapped_column(String(100), primary_key=True)
    usage_point_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    fed_at: Mapped[int] = mapped_column(BigInteger)
