"""Per-meter locks for VEE runs and edits on PostgreSQL, held until commit.

Two workers validating adjacent periods of one meter at once each miss the other's
uncommitted rows: the later period's run takes the earlier period for a gap and
estimates it. A transaction-scoped advisory lock per meter makes the second run wait
for the first to commit, then read its rows. Every transaction takes its meters in one
order, (tenant, meter id) ascending (a transaction holds one tenant's meters, or walks
tenants in id order), so no two wait on each other in a cycle; one taking several sets
(a group of messages in rounds, a window after window re-run) takes them all first.
SQLite has one writer at a time: nothing to lock there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

#: The first key of the advisory locks that serialise VEE per meter (arbitrary; meter
#: ids are unique across tenants, so the meter id alone names the series' owner).
VEE_LOCK_KEY = 61968_105
#: One statement for all the meters: unnest yields the sorted array in order, and the
#: aggregate takes each lock as its row goes by.
LOCK = text(
    "SELECT count(pg_advisory_xact_lock(:key, m)) FROM unnest(CAST(:meters AS integer[])) AS m"
)


def lock_meters(uow: UnitOfWork, meter_ids: Iterable[int]) -> None:
    """Hold, until commit, the right to validate or edit these meters' readings (waits
    for a transaction that holds one of them). Taking a lock held already is a no-op."""
    if uow.dialect != "postgresql":
        return
    meters = sorted(set(meter_ids))
    if meters:
        uow.session.execute(LOCK, {"key": VEE_LOCK_KEY, "meters": meters})
