"""One transaction and the repositories that work inside it, sharing one Session."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from cimhub.store.cache import StoreCache
from cimhub.store.hierarchy import HierarchyRepository
from cimhub.store.installations import InstallationRepository
from cimhub.store.lifecycle import LifecycleRepository
from cimhub.store.master_data import MasterData
from cimhub.store.master_queries import MasterQueries
from cimhub.store.message_log import MessageLogRepository
from cimhub.store.meter_assets import MeterAssetRepository
from cimhub.store.meters import MeterRepository
from cimhub.store.reading_types import ReadingTypeRepository
from cimhub.store.readings import ReadingRepository
from cimhub.store.row_security import enter, mark_unbound
from cimhub.store.tenants import TenantRepository
from cimhub.store.usage_points import UsagePointRepository


class UnitOfWork:
    """Made by ``Database.unit_of_work()``; never committed or rolled back by its users.

    Its scope (PostgreSQL row-level security, see ``row_security``): one tenant
    (``tenant_id``), every tenant (``hub``: housekeeping, workers, the CLI), or, with
    neither, no tenant-scoped row at all until ``bind_tenant`` (the default: a forgotten
    tenant sees nothing; on SQLite, touching a tenant-scoped table then raises).
    """

    def __init__(
        self,
        session: Session,
        cache: StoreCache,
        tenant_id: int | None = None,
        *,
        hub: bool = False,
    ) -> None:
        self.session = session
        self.dialect: str = session.get_bind().dialect.name
        self.cache = cache
        self.tenant_id = tenant_id
        self.hub = hub and tenant_id is None
        self._enter(now=False)
        self._commit_hooks: list[Callable[[], None]] = []
        self.tenants = TenantRepository(self)
        self.meters = MeterRepository(self)
        self.reading_types = ReadingTypeRepository(self)
        self.readings = ReadingRepository(self)
        self.messages = MessageLogRepository(self)
        self.usage_points = UsagePointRepository(self)
        self.hierarchy = HierarchyRepository(self)
        self.meter_assets = MeterAssetRepository(self)
        self.lifecycle = LifecycleRepository(self)
        self.installations = InstallationRepository(self)
        self.master = MasterData(self)
        self.master_queries = MasterQueries(self)

    def bind_tenant(self, tenant_id: int) -> None:
        """From now on, see and write ``tenant_id``'s rows only (pending writes of the
        previous scope are flushed first: a worker's batch may span tenants)."""
        if tenant_id == self.tenant_id:
            return
        self.session.flush()
        self.tenant_id, self.hub = tenant_id, False
        self._enter(now=True)

    def _enter(self, *, now: bool) -> None:
        if self.dialect == "postgresql":
            enter(self.session.connection(), self.tenant_id, self.hub)
        else:
            mark_unbound(self.session, self.tenant_id is None and not self.hub, now=now)

    def close(self) -> None:
        """Called by ``Database`` once the transaction has ended, committed or not: let go
        of all it held. Its repositories point back at it: without this, a transaction's
        objects (a 1 000×96 message's ~100 k validated rows) would outlive it until the
        cyclic collector's next older-generation pass, 40–65 ms each here (BENCHMARKS.md,
        round 13); with it, reference counting frees them as the block ends. The unit of
        work is not usable afterwards."""
        self.__dict__.clear()

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once this transaction has committed (e.g. to fill a cache)."""
        self._commit_hooks.append(hook)

    def committed(self) -> None:
        """Called by ``Database`` after COMMIT succeeded."""
        hooks, self._commit_hooks = self._commit_hooks, []
        for hook in hooks:
            hook()
