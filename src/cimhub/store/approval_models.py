"""Approval tables (0006_approval_codes): one-time codes issued to approvers, and the
contact (email address or phone number) each approver's codes go to."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base, BigId


class ApprovalCodeRow(Base):
    """One code: its salted hash, the commands it is bound to, its expiry and attempts."""

    __tablename__ = "approval_code"
    __table_args__ = (Index("ix_approval_code_approver", "tenant_id", "approver", "digest"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the sorted command mRIDs
    commands: Mapped[str] = mapped_column(Text)  # the mRIDs, JSON
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    max_attempts: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[int | None] = mapped_column(BigInteger)


class ApproverContactRow(Base):
    """Where an approver's codes go; set by an administrator, never by the approver."""

    __tablename__ = "approver_contact"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(200))
