"""Two tenants with data each, and requests made as one of them: the cross-tenant tests.

``as_tenant`` is the one place a test says who it is; today a header names the tenant
(the unauthenticated loopback mode), later credentials will.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from typing import Any

from sqlalchemy import text

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer, Inbound
from cimhub.settings import Settings
from cimhub.store.database import Database
from cimhub.testing.masterdata import seed_golden
from cimhub.testing.waiting import wait_until

TENANT_HEADER = "X-Cimhub-Tenant"
TENANT_A = "tenant-a"
TENANT_B = "tenant-b"
MESSAGES = resources.files("cimhub") / "cim" / "messages"
#: Golden files making a tenant's data: hierarchy, meters, a usage point and its meter,
#: interval and register readings (VEE, billing aggregates), events (outages).
GOLDEN_DATA = (
    "seeds/network-pune.csv",
    "MeterConfig/create-2-meters.xml",
    "UsagePointConfig/create-residential-prepaid.xml",
    "MasterDataLinkageConfig/create-meter-to-usagepoint.xml",
    "MeterReadings/created-interval-15min-2meters.xml",
    "MeterReadings/created-register-tou-md.xml",
    "EndDeviceEvents/created-outage-restore-tamper.xml",
)


def as_tenant(code: str, keys: Mapping[str, str] | None = None) -> dict[str, str]:
    """Request headers making a request act as tenant ``code``: its API key when ``keys``
    holds one (a hub with credentials), else the tenant header (open loopback mode)."""
    if keys and code in keys:
        return {"X-Api-Key": keys[code]}
    return {TENANT_HEADER: code}


def provision_admins(database: Database, *codes: str) -> dict[str, str]:
    """An administrator credential for each tenant; returns their API keys by tenant."""
    from cimhub.store.security import Security

    with database.unit_of_work(hub=True) as uow:
        security = Security(uow)
        return {
            code: security.create_credential(code, f"admin-{code}", ["administrator"], actor="test")
            for code in codes
        }


def sender(hub: Any) -> Callable[..., Answer]:
    def send(raw: bytes, tenant: str, transport: str = "test") -> Answer:
        return hub.pipeline.process(Inbound(raw, tenant, transport))

    return send


def seed_tenant(hub: Any, code: str) -> None:
    """Give tenant ``code`` the golden data set (every file must be accepted)."""
    send = sender(hub)
    for name in GOLDEN_DATA:
        path = MESSAGES / name
        seed_golden(hub, code, path, send)  # type: ignore[arg-type]


@contextmanager
def two_tenants_hub(settings: Settings) -> Iterator[Hub]:
    """A hub whose tenants A and B both hold the golden data set."""
    hub = Hub.build(settings)
    try:
        seed_tenant(hub, TENANT_A)
        seed_tenant(hub, TENANT_B)
        yield hub
    finally:
        hub.close()


def tenant_scoped_tables(database: Database) -> list[str]:
    """Every table of the store with a ``tenant_id`` column (run-time partitions aside)."""
    from sqlalchemy import inspect

    inspector = inspect(database.engine)
    return sorted(
        name
        for name in inspector.get_table_names()
        if not name.startswith("interval_reading_y")
        and any(c["name"] == "tenant_id" for c in inspector.get_columns(name))
    )


def rows_of(database: Database, tenant_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every tenant-scoped table belonging to ``tenant_id``, sorted, read
    hub-wide by the connecting role: a snapshot to compare before and after."""
    snapshot = {}
    with database.engine.connect() as connection:
        for table in tenant_scoped_tables(database):
            rows = connection.execute(
                text(f'SELECT * FROM "{table}" WHERE tenant_id = :t'), {"t": tenant_id}
            ).all()
            snapshot[table] = sorted((tuple(r) for r in rows), key=repr)
    return snapshot


def settled(hub: Hub) -> None:
    """Wait (bounded) until the hub has delivered or dead-lettered every outbox row: a
    delivery finishing removes a tenant's row, which is the hub's doing, not a tenant's —
    counts of a tenant's rows taken before and after must not race it."""

    def empty() -> bool:
        with hub.database.engine.connect() as c:
            return not c.execute(text("SELECT 1 FROM outbox")).first()

    wait_until(empty, timeout=60)
