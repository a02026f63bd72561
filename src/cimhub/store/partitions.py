"""Monthly (UTC) partitions of ``interval_reading`` on PostgreSQL, created on demand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import exc, text

from cimhub.store.row_security import as_owner

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

PARENT = "interval_reading"
PARTITION_NAME = re.compile(rf"{PARENT}_y\d{{4}}m\d{{2}}")
#: SQLSTATEs meaning "someone else created it meanwhile": unique_violation on the
#: catalog (a concurrent CREATE) and duplicate_table.
ALREADY_THERE = {"23505", "42P07"}


def is_partition(name: str | None) -> bool:
    """Whether a table is one of the run-time partitions (migrations leave those alone)."""
    return bool(name and PARTITION_NAME.fullmatch(name))


def months(first: int, last: int) -> Iterator[tuple[str, int, int]]:
    """(partition name, start, end) of every calendar month touching [first, last].

    >>> [m[0] for m in months(1706745600 - 1, 1706745600)]  # 2024-02-01T00:00Z
    ['interval_reading_y2024m01', 'interval_reading_y2024m02']
    """
    month = datetime.fromtimestamp(first, UTC).replace(day=1, hour=0, minute=0, second=0)
    while (start := int(month.timestamp())) <= last:
        following = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
        yield f"{PARENT}_y{month.year:04d}m{month.month:02d}", start, int(following.timestamp())
        month = following


def ensure_months(uow: UnitOfWork, first: int, last: int) -> None:
    """Make sure partitions cover [first, last]; free when they are already known."""
    known = uow.cache.partitions
    for name, start, end in months(first, last):
        if name not in known:
            _create(uow, name, start, end)
            # Remembered only once committed: a rollback also undoes the CREATE.
            uow.on_commit(partial(known.add, name))


def _create(uow: UnitOfWork, name: str, start: int, end: int) -> None:
    ddl = (
        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} "
        f"FOR VALUES FROM ({start}) TO ({end})"
    )
    try:
        # A savepoint, so that losing a race to a concurrent creator does not abort
        # the whole unit of work.
        with uow.session.begin_nested():
            connection = uow.session.connection()
            with as_owner(connection):  # attaching a partition takes the parent's owner
                connection.execute(text(ddl))
    except (exc.IntegrityError, exc.ProgrammingError) as error:
        if getattr(error.orig, "sqlstate", None) not in ALREADY_THERE:
            raise
