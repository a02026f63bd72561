"""Persistence: SQLAlchemy models, migrations and repositories (SQLite and PostgreSQL)."""

from cimhub.store.database import Database
from cimhub.store.readings import StoredSeries
from cimhub.store.unit_of_work import UnitOfWork

__all__ = ["Database", "StoredSeries", "UnitOfWork"]

# The bus's tables live beside their repositories; importing them registers them with the
# one metadata (migrations, drift check) whatever module is imported first.
from cimhub.store import dead_letters, dt_outages, exceptions, outbox, subscriptions  # noqa: F401
