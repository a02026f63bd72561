"""A unit of work's tenant scope: a call that forgets the tenant gets nothing, not everything.

``unit_of_work()`` with neither a tenant nor ``hub=True`` is bound to no tenant until
``bind_tenant``. PostgreSQL's row-level security then shows no tenant-scoped row and
refuses writes (see tests/integration/security/test_row_security.py); on SQLite, which has
no RLS, touching a tenant-scoped table at all is refused. The explicit forms still work.
"""

from __future__ import annotations

import pytest
from sqlalchemy import exc, text

from cimhub.domain.reading import MeterRef
from cimhub.store.database import Database
from cimhub.store.row_security import TenantScopeError

#: What an unbound unit of work touching a tenant-scoped table gets on SQLite.
REFUSED = (TenantScopeError, exc.StatementError)


def _two_tenants(db: Database) -> tuple[int, int]:
    with db.unit_of_work(hub=True) as uow:
        a, b = uow.tenants.ensure("scope-a"), uow.tenants.ensure("scope-b")
        uow.meters.resolve(a, [MeterRef("a-1")], auto_register=True)
        uow.meters.resolve(b, [MeterRef("b-1")], auto_register=True)
    return a, b


def test_a_forgotten_tenant_reads_no_tenants_rows(db: Database) -> None:
    a, b = _two_tenants(db)
    if db.dialect == "postgresql":
        with db.unit_of_work() as uow:
            assert uow.session.execute(text("SELECT count(*) FROM meter")).scalar() == 0
            assert uow.meters.find(a, [MeterRef("a-1")]) == [None]
            assert uow.meters.find(b, [MeterRef("b-1")]) == [None]
    else:
        with (
            pytest.raises(REFUSED, match="bound to no tenant used meter"),
            db.unit_of_work() as uow,
        ):
            uow.meters.find(a, [MeterRef("a-1")])
    with db.unit_of_work() as uow:  # tables of no tenant stay readable
        assert uow.tenants.find("scope-b") == b


def test_a_forgotten_tenant_writes_into_no_tenants_scope(db: Database) -> None:
    _a, b = _two_tenants(db)
    insert = text(
        "INSERT INTO meter (tenant_id, mrid, created_at, auto_registered) "
        "VALUES (:b, 'intruder', 0, false)"
    )
    refused = exc.ProgrammingError if db.dialect == "postgresql" else REFUSED
    with pytest.raises(refused), db.unit_of_work() as uow:
        uow.session.execute(insert, {"b": b})
    with pytest.raises(refused), db.unit_of_work() as uow:
        uow.meters.resolve(b, [MeterRef("auto-intruder")], auto_register=True)
    with db.unit_of_work(hub=True) as uow:
        assert uow.meters.find(b, [MeterRef("intruder"), MeterRef("auto-intruder")]) == [
            None,
            None,
        ]


def test_the_explicit_scopes_still_work(db: Database) -> None:
    a, b = _two_tenants(db)
    with db.unit_of_work(a) as uow:
        assert uow.meters.find(a, [MeterRef("a-1")]) != [None]
    with db.unit_of_work() as uow:  # bound later, as the pipeline does per message
        uow.bind_tenant(b)
        [found] = uow.meters.find(b, [MeterRef("b-1")])
        assert found is not None
        uow.meters.resolve(b, [MeterRef("b-2")], auto_register=True)
    with db.unit_of_work(hub=True) as uow:
        assert uow.session.execute(text("SELECT count(*) FROM meter")).scalar() == 3
    with db.unit_of_work() as uow:
        uow.tenants.find("scope-a")
    # its connection went back to the pool: the next user is not bound to no tenant
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM meter")).scalar() == 3
