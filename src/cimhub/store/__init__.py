"""Persistence: SQLAlchemy models, migrations and repositories (SQLite and PostgreSQL)."""

from cimhub.store.database import Database
from cimhub.store.readings import StoredSeries
from cimhub.store.unit_of_work import UnitOfWork

__all__ = ["Database", "StoredSeries", "UnitOfWork"]
