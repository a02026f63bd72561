"""Tenants' billing configuration: versioned documents, the latest in force (a change is a
new version, the old ones stay for the audit; effective dates live inside the document)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import func, insert, select

from cimhub.billing.config import BillingConfig, parse_config
from cimhub.store.billing_models import BillingConfigRow
from cimhub.store.models import now

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

T = BillingConfigRow.__table__


class BillingConfigs:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def document(self, tenant_id: int) -> tuple[int, dict[str, Any]]:
        """(version, document) in force; (0, {}) when the tenant has none (defaults)."""
        row = self._uow.session.execute(
            select(T.c.version, T.c.document)
            .where(T.c.tenant_id == tenant_id)
            .order_by(T.c.version.desc())
            .limit(1)
        ).first()
        return (row.version, json.loads(row.document)) if row else (0, {})

    def current(self, tenant_id: int) -> BillingConfig:
        """The configuration in force, read once a unit of work (ingest asks for it in
        VEE and again in the daily aggregates; a ``put`` in between reads it anew)."""
        known = _current(self._uow)
        if tenant_id not in known:
            known[tenant_id] = parse_config(self.document(tenant_id)[1])
        return known[tenant_id]

    def put(self, tenant_id: int, document: Mapping[str, Any], *, by: str = "") -> int:
        """Check and store a new version; returns its number (InvalidValueError if bad)."""
        parse_config(document)
        version = (
            self._uow.session.execute(
                select(func.max(T.c.version)).where(T.c.tenant_id == tenant_id)
            ).scalar()
            or 0
        ) + 1
        _current(self._uow).pop(tenant_id, None)
        self._uow.session.execute(
            insert(T).values(
                tenant_id=tenant_id,
                version=version,
                document=json.dumps(document, default=str),
                changed_by=by[:100],
                created_at=now(),
            )
        )
        return version


def _current(uow: UnitOfWork) -> dict[int, BillingConfig]:
    """The configurations this unit of work has read, by tenant."""
    return cast(dict[int, BillingConfig], uow.__dict__.setdefault("_billing_configs", {}))
