"""The store's entry point: one engine per database URL, migrations, units of work.

SQLite (the embedded default) runs in WAL mode with foreign keys on, a busy timeout and
connections usable from any thread; SQLAlchemy emits BEGIN itself so that every unit of
work is a real transaction. PostgreSQL goes through psycopg 3 with pre-ping on checkout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, exc, make_url, text
from sqlalchemy.orm import Session

from cimhub.errors import StorageUnavailableError, TechnicalError
from cimhub.stages import stage
from cimhub.store import row_security, staging
from cimhub.store.cache import StoreCache
from cimhub.store.unit_of_work import UnitOfWork

BUSY_TIMEOUT_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 10
#: Serialises concurrent ``upgrade()`` calls on PostgreSQL (an arbitrary, fixed key).
MIGRATION_LOCK_KEY = 61968_100
#: Driver errors that mean "the database cannot be reached or used right now".
UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)
#: Execution option telling the SQLite BEGIN hook to take the write lock up front.
IMMEDIATE = "cimhub_begin_immediate"


def alembic_config(url: str) -> Config:
    """Alembic's configuration, built in code: the migrations ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(files("cimhub.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migration_heads() -> set[str]:
    """The newest revision of every migration branch (features branch off independently)."""
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


class Database:
    """A database behind a URL: ``sqlite:///file.db`` or ``postgresql+psycopg://…``."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed.render_as_string(hide_password=False)
        self._engine = (
            _sqlite_engine(self.url)
            if parsed.get_backend_name() == "sqlite"
            else _postgres_engine(self.url)
        )
        # Units of work write: on SQLite they take the write lock when they begin.
        self._writer = self._engine.execution_options(**{IMMEDIATE: True})
        self._cache = StoreCache()

    @classmethod
    def migrated(cls, url: str) -> Database:
        """The database at ``url`` with every migration applied (``upgrade``); if that
        fails, the connection it used is closed before the error goes on."""
        database = cls(url)
        try:
            database.upgrade()
        except BaseException:
            database.dispose()
            raise
        return database

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self._engine.dialect.name

    @property
    def engine(self) -> Engine:
        return self._engine

    def known_tenant(self, code: str) -> int | None:
        """The id of tenant ``code`` if a committed unit of work has met it (no query):
        a unit of work opened for it sets its row-level security scope once."""
        return self._cache.tenants.get(code)

    def upgrade(self) -> None:
        """Apply every migration not yet applied (alembic ``upgrade head``); idempotent."""
        config = alembic_config(self.url)
        try:
            with self._writer.begin() as connection:
                if self.dialect == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "heads")  # feature branches each start from 0002
                row_security.secure(connection)  # tables later migrations added, too
        except UNAVAILABLE as error:
            raise _unavailable(error) from error

    def ping(self) -> bool:
        """True when the database answers a trivial query (for /readyz)."""
        try:
            with self._engine.connect() as connection:
                return connection.execute(text("SELECT 1")).scalar() == 1
        except exc.SQLAlchemyError:
            return False

    @contextmanager
    def unit_of_work(
        self, tenant_id: int | None = None, *, hub: bool = False
    ) -> Iterator[UnitOfWork]:
        """One transaction: committed when the block ends, rolled back on any exception.

        Scoped to ``tenant_id`` when given, to every tenant with ``hub=True``, and
        otherwise to no tenant until ``uow.bind_tenant``: a call that forgets the tenant
        sees no tenant's rows and writes none (row-level security on PostgreSQL; the
        repositories' explicit ``tenant_id`` filters and ``UnitOfWork.scope`` on SQLite).
        """
        uow: UnitOfWork | None = None
        try:
            try:
                # the stage opens at the block's end and closes after session.begin()'s
                # exit: it times the commit alone
                with (
                    Session(self._writer, expire_on_commit=False) as session,
                    ExitStack() as timed,
                    session.begin(),
                ):
                    with stage("begin"):  # a pooled connection, BEGIN, row-level security
                        uow = UnitOfWork(session, self._cache, tenant_id, hub=hub)
                    yield uow
                    timed.enter_context(stage("commit"))
            except UNAVAILABLE as error:
                raise _unavailable(error) from error
            uow.committed()
        finally:
            if uow is not None:
                uow.close()

    def dispose(self) -> None:
        """Close every pooled connection. Using the database afterwards opens new ones
        that only another ``dispose()`` closes."""
        self._engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()


#: SQLSTATE of a transaction asking more than the server has (PostgreSQL's "out of shared
#: memory": e.g. more locks than its lock table holds, a worker's batch of many large
#: messages). The database is up: the same work in smaller transactions succeeds.
OUT_OF_MEMORY = "53200"


def _unavailable(error: exc.SQLAlchemyError) -> TechnicalError:
    """StorageUnavailableError (wait for the store, retry the same work), unless the
    transaction itself was too large for the server: a plain TechnicalError then, so a
    batch is handled one message at a time and a lone message retried, then
    dead-lettered, rather than retried whole for ever."""
    cause = getattr(error, "orig", None) or error
    if getattr(cause, "sqlstate", None) == OUT_OF_MEMORY:
        return TechnicalError(f"transaction too large for the database: {cause}")
    return StorageUnavailableError(f"storage unavailable: {cause}")


def _postgres_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            # COPY into tenant-scoped tables under row-level security (see row_security)
            "cursor_factory": row_security.RowSecureCursor,
        },
    )
    event.listen(engine, "before_cursor_execute", staging.refuse_during_copy)
    return engine


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    event.listen(engine, "before_cursor_execute", row_security.refuse_unbound)
    event.listen(engine.pool, "checkin", row_security.forget_scope)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # sqlite3 would not BEGIN before a SELECT or DDL; and in WAL mode a read transaction
    # that later writes fails at once (no busy wait) if another writer got in between,
    # so units of work BEGIN IMMEDIATE and queue on the busy timeout instead.
    immediate = connection.get_execution_options().get(IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
