"""Row-level security on PostgreSQL: a unit of work sees its own tenant's rows, nothing else.

Every table with a ``tenant_id`` column gets two permissive policies: ``tenant_rows``
(the row's tenant is the one the transaction set in ``cimhub.tenant_id``) and ``hub_rows``
(the transaction declared itself hub-wide: ``cimhub.scope = 'hub'``). RLS is ENABLEd and
FORCEd, and units of work act as the NOLOGIN role ``cimhub_app`` (``SET LOCAL ROLE``, so the
role ends with the transaction): not the tables' owner, never a superuser, so the policies
apply even when the hub connects as one. A transaction that set neither sees no
tenant-scoped row at all — a query that forgets the tenant returns nothing.
Tables in ``SHARED`` also hold hub-wide rows (``tenant_id`` NULL: a subscription to every
tenant's events) that every scope may read (a third, SELECT-only policy ``shared_rows``)
but only the hub may write.

``COPY … FROM`` refuses tables under RLS, so the store's COPYs into a tenant-scoped table
run as the connecting (owner) role, after a check that every row belongs to the bound
tenant (``RowSecureCursor``): the hot ingest path keeps COPY and the guarantee.
SQLite has no RLS: there, repositories' explicit ``tenant_id`` filters are the isolation,
and a unit of work bound to no tenant fails closed by refusing (``TenantScopeError``) any
statement that reads or writes a tenant-scoped table (``refuse_unbound``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, event, text
from sqlalchemy.orm import Session

from cimhub.errors import TechnicalError

ROLE = "cimhub_app"
TENANT_SETTING = "cimhub.tenant_id"
SCOPE_SETTING = "cimhub.scope"
HUB = "hub"

#: One round trip at the start of a unit of work (and when it binds another tenant). It
#: also has every statement of the transaction planned for its values: psycopg prepares a
#: statement run five times, and PostgreSQL may then keep a generic plan, blind to them —
#: for the partitioned readings' probes that plan cost 51 ms a batch instead of well under
#: one (BENCHMARKS.md, round 6); planning each execution costs ~0.1 ms. Set per
#: transaction, not per connection, so that it holds behind any connection pooler.
ENTER = text(
    "SELECT set_config('role', :role, true), set_config('cimhub.tenant_id', :tenant, true), "
    "set_config('cimhub.scope', :scope, true), "
    "set_config('plan_cache_mode', 'force_custom_plan', true)"
)
CREATE_ROLE = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
    CREATE ROLE {ROLE} NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- a concurrent creator won
END $$;
DO $$ BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
    EXECUTE 'GRANT {ROLE} TO ' || quote_ident(current_user);
  END IF;
END $$;
"""
#: Tables (not run-time partitions) of the current schema, and whether they are
#: tenant-scoped, already under RLS, and already granted to the role.
TABLES = f"""
SELECT c.relname,
       EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid
               AND a.attname = 'tenant_id' AND NOT a.attisdropped),
       c.relrowsecurity AND c.relforcerowsecurity,
       has_table_privilege('{ROLE}', c.oid, 'SELECT, INSERT, UPDATE, DELETE')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND c.relname <> 'alembic_version'
"""
#: A COPY's scope (role, tenant, hub-wide) read, and the app role left for the connecting
#: one (any other role is kept: set to itself). PostgreSQL evaluates the select list left
#: to right, so the first column is the role before the switch.
LEAVE_APP_ROLE = (
    f"SELECT current_setting('role'), current_setting('{TENANT_SETTING}', true), "
    f"current_setting('{SCOPE_SETTING}', true), set_config('role', CASE current_setting('role') "
    f"WHEN '{ROLE}' THEN 'none' ELSE current_setting('role') END, true)"
)
#: Tables whose rows without a tenant are the hub's, readable by every tenant.
SHARED = frozenset({"subscription"})
SHARED_QUAL = "tenant_id IS NULL"
TENANT_QUAL = f"tenant_id = nullif(current_setting('{TENANT_SETTING}', true), '')::int"
HUB_QUAL = f"current_setting('{SCOPE_SETTING}', true) = '{HUB}'"
#: The tables a statement reads or writes (SQLite's unbound check; names as SQLAlchemy emits).
_TABLES_USED = re.compile(r'\b(?:FROM|JOIN|INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE)
#: ``Connection.info`` key: this connection's unit of work is bound to no tenant (SQLite).
UNBOUND = "cimhub_unbound"
SCOPED_TABLES = "cimhub_scoped_tables"
SQLITE_SCOPED_TABLES = (
    "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p "
    "WHERE m.type = 'table' AND p.name = 'tenant_id'"
)
_COPY_FROM = re.compile(r"^\s*COPY\s+(\w+)\s*\(([^)]*)\)\s+FROM\s+STDIN", re.IGNORECASE)


class TenantScopeError(TechnicalError):
    """The store was asked to write a row outside the unit of work's tenant (a bug)."""


def secure(connection: Connection) -> None:
    """Put every tenant-scoped table under RLS and grant the app role its DML; idempotent
    (run by migration 0004_tenant_rls and after every upgrade, so tables that later
    migrations add are covered too). No-op on SQLite."""
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql(CREATE_ROLE)
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
    usable = connection.exec_driver_sql(
        f"SELECT has_schema_privilege('{ROLE}', current_schema(), 'USAGE')"
    ).scalar()
    if not usable:  # PUBLIC usually has it already (and only the schema's owner may grant)
        connection.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO {ROLE}')
    connection.exec_driver_sql(
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {ROLE}'
    )
    for name, scoped, protected, granted in connection.exec_driver_sql(TABLES).all():
        if not granted:
            connection.exec_driver_sql(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{name}" TO {ROLE}'
            )
        if scoped and not protected:
            _protect(connection, name)


def act_hub_wide(connection: Connection) -> None:
    """See and write every tenant's rows for the rest of this transaction, as the connecting
    role: a migration filling in data (FORCEd RLS binds the tables' owner too, unless it
    is a superuser, and a migration runs with no tenant). No-op on SQLite."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT set_config('{SCOPE_SETTING}', '{HUB}', true)")


def _protect(connection: Connection, table: str) -> None:
    connection.exec_driver_sql(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    connection.exec_driver_sql(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    for policy, qual in (("tenant_rows", TENANT_QUAL), ("hub_rows", HUB_QUAL)):
        connection.exec_driver_sql(f'DROP POLICY IF EXISTS {policy} ON "{table}"')
        connection.exec_driver_sql(
            f'CREATE POLICY {policy} ON "{table}" USING ({qual}) WITH CHECK ({qual})'
        )
    connection.exec_driver_sql(f'DROP POLICY IF EXISTS shared_rows ON "{table}"')
    if table in SHARED:  # SELECT only: UPDATE, DELETE and INSERT still need the above
        connection.exec_driver_sql(
            f'CREATE POLICY shared_rows ON "{table}" FOR SELECT USING ({SHARED_QUAL})'
        )


def unprotect(connection: Connection) -> None:
    """Undo ``secure``'s policies (migration downgrade); the role stays (cluster-wide)."""
    if connection.dialect.name != "postgresql":
        return
    for name, scoped, _protected, _granted in connection.exec_driver_sql(TABLES).all():
        if scoped:
            unprotect_table(connection, name)


def unprotect_table(connection: Connection, table: str) -> None:
    """Undo ``secure``'s policies on one table (a migration that scoped it, downgraded)."""
    if connection.dialect.name != "postgresql":
        return
    for policy in ("tenant_rows", "hub_rows", "shared_rows"):
        connection.exec_driver_sql(f'DROP POLICY IF EXISTS {policy} ON "{table}"')
    connection.exec_driver_sql(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
    connection.exec_driver_sql(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')


def enter(connection: Connection, tenant_id: int | None, hub: bool) -> None:
    """Act as the app role for the rest of this transaction, scoped to ``tenant_id``, to
    every tenant (``hub``), or to none (neither)."""
    connection.execute(
        ENTER,
        {
            "role": ROLE,
            "tenant": "" if tenant_id is None else str(tenant_id),
            "scope": HUB if hub and tenant_id is None else "",
        },
    )


def mark_unbound(session: Session, unbound: bool, *, now: bool = False) -> None:
    """SQLite: whether ``session``'s unit of work is bound to no tenant; its connection
    learns it when the transaction begins (so a unit of work still connects lazily), or
    at once (``now``: a tenant bound mid-transaction)."""
    session.info[UNBOUND] = unbound
    if now:
        session.connection().info[UNBOUND] = unbound


@event.listens_for(Session, "after_begin")
def _carry_scope(session: Session, _transaction: Any, connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        connection.info[UNBOUND] = session.info.get(UNBOUND, False)


def refuse_unbound(
    connection: Connection, _cursor: Any, statement: str, *_args: Any, **_kw: Any
) -> None:
    """SQLite's stand-in for RLS's "no tenant, no rows" (a ``before_cursor_execute`` hook):
    a unit of work bound to no tenant may not touch a tenant-scoped table at all."""
    if not connection.info.get(UNBOUND):
        return
    touched = {n.lower() for n in _TABLES_USED.findall(statement)} & _scoped_tables(connection)
    if touched:
        raise TenantScopeError(
            f"a unit of work bound to no tenant used {', '.join(sorted(touched))}: "
            "pass the tenant, bind_tenant, or hub=True"
        )


def forget_scope(_dbapi_connection: Any, record: Any) -> None:
    """Back in the pool (a ``checkin`` hook): the next user sets its own scope."""
    record.info.pop(UNBOUND, None)


def _scoped_tables(connection: Connection) -> frozenset[str]:
    """The database's tables with a ``tenant_id`` (read once per connection: migrations
    only ever add tables, and run before units of work)."""
    scoped = connection.info.get(SCOPED_TABLES)
    if scoped is None:
        driver = connection.connection.driver_connection  # no hooks: not a statement of ours
        rows = driver.execute(SQLITE_SCOPED_TABLES).fetchall()
        scoped = connection.info[SCOPED_TABLES] = frozenset(r[0].lower() for r in rows)
    return scoped


@contextmanager
def as_owner(connection: Connection) -> Iterator[None]:
    """Run DDL the app role may not (a new partition) as the connecting role, then return
    to the app role; the unit of work's tenant settings are untouched."""
    if connection.dialect.name != "postgresql":
        yield
        return
    previous = connection.exec_driver_sql(
        "SELECT current_setting('role'), set_config('role', 'none', true)"
    ).scalar()
    yield
    connection.exec_driver_sql("SELECT set_config('role', %(role)s, true)", {"role": previous})


class RowSecureCursor(psycopg.Cursor[Any]):
    """psycopg's cursor, with COPY FROM into a tenant-scoped table made possible under RLS.

    While a unit of work acts as the app role, such a COPY runs as the connecting role
    instead (RLS would refuse it), and every row's ``tenant_id`` is checked against the
    unit of work's tenant first (any tenant when hub-wide; none when unbound).
    """

    @contextmanager
    def copy(self, statement: Any, params: Any = None, **kwargs: Any) -> Iterator[Any]:
        match = _COPY_FROM.match(statement) if isinstance(statement, str) else None
        columns = [c.strip().strip('"') for c in match.group(2).split(",")] if match else []
        if "tenant_id" not in columns:
            with super().copy(statement, params, **kwargs) as copy:
                yield copy
            return
        # One round trip reads the unit of work's scope and leaves the app role.
        row = self.execute(LEAVE_APP_ROLE).fetchone()
        role, tenant, scope = row[:3] if row else ("none", "", "")
        if role != ROLE:  # not in a unit of work: the connecting role's own rights apply
            with super().copy(statement, params, **kwargs) as copy:
                yield copy
            return
        allowed = None if scope == HUB else int(tenant) if tenant else -1
        try:
            with super().copy(statement, params, **kwargs) as copy:
                checked = _Checked(copy, columns.index("tenant_id"), allowed)
                yield copy if allowed is None else checked
        finally:  # a failed transaction is rolled back, and its settings with it
            if self.connection.info.transaction_status == TransactionStatus.INTRANS:
                self.execute("SELECT set_config('role', %s, true)", (ROLE,))


class _Checked:
    """A COPY writer refusing rows of any tenant but one."""

    def __init__(self, copy: Any, column: int, tenant_id: int | None) -> None:
        self._copy, self._column, self._tenant_id = copy, column, tenant_id

    def set_types(self, types: Any) -> None:
        self._copy.set_types(types)

    def write_row(self, row: Any) -> None:
        if row[self._column] != self._tenant_id:
            raise self._refused(row)
        self._copy.write_row(row)

    def write_rows(self, rows: Iterable[Any]) -> None:
        """``write_row`` for each row, in one loop: no extra Python call per row."""
        write, column, tenant_id = self._copy.write_row, self._column, self._tenant_id
        for row in rows:
            if row[column] != tenant_id:
                raise self._refused(row)
            write(row)

    def _refused(self, row: Any) -> TenantScopeError:
        return TenantScopeError(
            f"row of tenant {row[self._column]} written in a unit of work of tenant "
            f"{self._tenant_id if self._tenant_id >= 0 else '(none)'}"
        )

    def write(self, buffer: Any) -> None:
        raise TenantScopeError("raw COPY data into a tenant-scoped table: use write_row")


def write_rows(copy: Any, rows: Iterable[Any]) -> None:
    """Write ``rows`` to a COPY from a ``RowSecureCursor`` (checked or not), as
    ``copy.write_row`` would one by one."""
    if isinstance(copy, _Checked):
        copy.write_rows(rows)
        return
    write = copy.write_row
    for row in rows:
        write(row)
