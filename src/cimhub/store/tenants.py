"""Tenants (one DISCOM each): every other row in the store is scoped by one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update

from cimhub.domain.tenant import Tenant as TenantInfo
from cimhub.errors import UnknownObjectError
from cimhub.store.models import Tenant, now
from cimhub.store.sql import insert_ignore

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: The columns of a TenantInfo, in its order.
_INFO = (
    Tenant.id,
    Tenant.code,
    Tenant.name,
    Tenant.auto_register_meters,
    Tenant.approval_codes,
    Tenant.on_demand_stale_minutes,
)
#: One tenant's TenantInfo (asked by every GetMeterReadings and auto-registration):
#: built once, its id bound at execution.
_ONE = select(*_INFO).where(Tenant.id == bindparam("tenant_id"))
#: The settings a tenant may set on its own row.
SETTINGS = frozenset({"auto_register_meters", "approval_codes", "on_demand_stale_minutes"})


class TenantRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def ensure(self, code: str, name: str | None = None) -> int:
        """The id of the tenant ``code``, created (named ``name`` or ``code``) if missing."""
        cache = self._uow.cache.tenants
        if code in cache:
            return cache[code]
        tenant_id = self._find(code)
        if tenant_id is None:
            row = {"code": code, "name": name or code, "created_at": now()}
            self._uow.session.execute(insert_ignore(Tenant, self._uow.dialect, "code"), [row])
            tenant_id = self._find(code)
            assert tenant_id is not None  # inserted above, or by a concurrent creator
        self._uow.on_commit(lambda: self._uow.cache.remember_tenant(code, tenant_id))
        return tenant_id

    def find(self, code: str) -> int | None:
        """The id of the tenant ``code``, or None (never creates)."""
        return self._uow.cache.tenants.get(code) or self._find(code)

    def code_of(self, tenant_id: int) -> str:
        """The code of tenant ``tenant_id`` (a tenant's code never changes: remembered
        once a transaction that read it commits)."""
        codes = self._uow.cache.tenant_codes
        code = codes.get(tenant_id)
        if code is None:
            code = self.get(tenant_id).code
            self._uow.on_commit(lambda: self._uow.cache.remember_tenant(code, tenant_id))
        return code

    def get(self, tenant_id: int) -> TenantInfo:
        row = self._uow.session.execute(_ONE, {"tenant_id": tenant_id}).one_or_none()
        if row is None:
            raise UnknownObjectError(f"unknown tenant {tenant_id}", object_id=str(tenant_id))
        return TenantInfo(*row)

    def all(self) -> list[TenantInfo]:
        rows = self._uow.session.execute(select(*_INFO).order_by(Tenant.code))
        return [TenantInfo(*row) for row in rows]

    def configure(self, tenant_id: int, **settings: bool | int | None) -> None:
        """Set the tenant's own settings named (``auto_register_meters``,
        ``approval_codes``, ``on_demand_stale_minutes``); None defers to the hub-wide
        setting."""
        unknown = set(settings) - SETTINGS
        if unknown:
            raise ValueError(f"no tenant setting {sorted(unknown)}")
        self._uow.session.execute(update(Tenant).where(Tenant.id == tenant_id).values(**settings))

    def _find(self, code: str) -> int | None:
        return self._uow.session.scalar(select(Tenant.id).where(Tenant.code == code))
