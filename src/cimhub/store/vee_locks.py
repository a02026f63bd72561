"""Per-meter locks for VEE runs and edits on PostgreSQL, held until commit.

Two workers validating adjacent periods of one meter at once each miss the other's
uncommitted rows: the later period's run takes the earlier period for a gap and
estimates it. A transaction-scoped advisory lock per meter makes the second run wait
for the first to commit, then read its rows. Every transaction takes its meters in one
order, (tenant, meter id) ascending (a transaction holds one tenant's meters, or walks
tenants in id order), so no two wait on each other in a cycle; one taking several sets
(a group of messages in rounds, a window after window re-run) takes them all first.
SQLite has one writer at a time: nothing to lock there.

The transaction remembers the meters it holds (``holds``): asking again costs no round
trip, and a writer holding a meter knows no other transaction can store that meter's
validated rows meanwhile (every writer of them takes the lock), nor its raw interval
readings (ingest writes them holding the lock while VEE is on), so it needs no savepoint
against losing a race for such a key. A lock taken inside a savepoint is not
remembered: rolling the savepoint back releases it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

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
    """Hold, until commit, the right to store, validate or edit these meters' readings
    (waits for a transaction that holds one of them). Meters held already cost nothing."""
    if uow.dialect != "postgresql":
        return
    held = _held(uow)
    meters = sorted(set(meter_ids) - held)
    if meters:
        uow.session.execute(LOCK, {"key": VEE_LOCK_KEY, "meters": meters})
        if not uow.session.in_nested_transaction():
            held.update(meters)


def holds(uow: UnitOfWork, meter_ids: Iterable[int]) -> bool:
    """Whether this transaction holds every one of these meters' locks (PostgreSQL)."""
    return uow.dialect == "postgresql" and _held(uow).issuperset(meter_ids)


def _held(uow: UnitOfWork) -> set[int]:
    """The meters this transaction has locked (a unit of work is one transaction)."""
    return cast(set[int], uow.__dict__.setdefault("_vee_locked_meters", set()))
