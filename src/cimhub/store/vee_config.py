"""Tenants' stored VEE overrides: versioned documents, the latest in force over the
configuration file's section for the tenant (see ``cimhub.vee.config.with_tenant``).

A change is a new version (who, why, when); the earlier ones stay for the audit. Stored
configuration changes how VEE judges new data; stored data is judged again by
``cimhub vee rerun``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Integer, String, Text, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from cimhub.store.models import Base
from cimhub.vee.config import tenant_layer

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


class VeeConfigRow(Base):
    """One version of a tenant's VEE overrides; the highest is in force."""

    __tablename__ = "vee_config"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text)  #: JSON: parameters, meter_type, category
    changed_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)


T = VeeConfigRow.__table__


class VeeConfigs:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def document(self, tenant_id: int) -> tuple[int, dict[str, Any]]:
        """(version, document) in force; (0, {}) when the tenant stored none."""
        row = self._uow.session.execute(
            select(T.c.version, T.c.document)
            .where(T.c.tenant_id == tenant_id)
            .order_by(T.c.version.desc())
            .limit(1)
        ).first()
        return (row.version, json.loads(row.document)) if row else (0, {})

    def put(
        self, tenant_id: int, document: dict[str, Any], *, by: str, reason: str, now: int
    ) -> int:
        """Check (ValueError naming what is wrong) and store a new version; its number."""
        tenant_layer(document)
        latest = self._uow.session.execute(
            select(func.max(T.c.version)).where(T.c.tenant_id == tenant_id)
        ).scalar()
        version = (latest or 0) + 1
        self._uow.session.execute(
            insert(T).values(
                tenant_id=tenant_id, version=version, document=json.dumps(document),
                changed_by=by, reason=reason, created_at=now,
            )
        )  # fmt: skip
        return version
