"""The audit log: ``AuditLog(uow).record(...)`` appends a hash-chained entry in the caller's
transaction; ``verify()`` recomputes the chain.

Appends are serialised on the chain-head row (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite units of work already hold the database's one write lock), so concurrent writers
never fork the chain: each entry's id is the head's id + 1 and links to the head's hash.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from cimhub.domain.audit import FIELDS, Break, canonical, entry_hash, first_break
from cimhub.store.security_models import AuditEntry, AuditHead

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork

_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    at: int
    actor: str
    tenant: str | None
    action: str
    object: str
    before: str | None
    after: str | None
    prev_hash: str
    hash: str


class AuditLog:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def record(
        self,
        actor: str,
        action: str,
        object: str = "",
        *,
        tenant: str | None = None,
        before: Any = None,
        after: Any = None,
        at: int | None = None,
    ) -> int:
        """Append one entry (``before``/``after`` any JSON-able value); returns its id."""
        session = self._uow.session
        head = session.execute(
            select(AuditHead.last_id, AuditHead.last_hash)
            .where(AuditHead.id == 1)
            .with_for_update()
        ).one()
        fields = {
            "id": head.last_id + 1,
            "at": int(time.time()) if at is None else at,
            "actor": actor,
            "tenant": tenant,
            "action": action,
            "object": object,
            "before": None if before is None else canonical(before),
            "after": None if after is None else canonical(after),
        }
        digest = entry_hash(fields, head.last_hash)
        session.add(AuditEntry(**fields, prev_hash=head.last_hash, hash=digest))
        session.flush()
        session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(last_id=fields["id"], last_hash=digest)
        )
        return int(fields["id"])

    def entries(
        self, *, tenant: str | None = None, after_id: int = 0, limit: int | None = None
    ) -> list[Entry]:
        query = select(*_COLUMNS).where(AuditEntry.id > after_id).order_by(AuditEntry.id)
        if tenant is not None:
            query = query.where(AuditEntry.tenant == tenant)
        if limit is not None:
            query = query.limit(limit)
        return [Entry(*row) for row in self._uow.session.execute(query)]

    def verify(self) -> Break | None:
        """The first broken entry, or None when every hash and link holds."""
        head = self._uow.session.execute(
            select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)
        ).one()
        return first_break(self._all(), (int(head.last_id), head.last_hash))

    def _all(self) -> Iterator[dict[str, Any]]:
        last = 0
        while True:
            batch = self.entries(after_id=last, limit=_BATCH)
            for entry in batch:
                yield {k: getattr(entry, k) for k in (*FIELDS, "prev_hash", "hash")}
            if len(batch) < _BATCH:
                return
            last = batch[-1].id


_COLUMNS = (
    AuditEntry.id,
    AuditEntry.at,
    AuditEntry.actor,
    AuditEntry.tenant,
    AuditEntry.action,
    AuditEntry.object,
    AuditEntry.before,
    AuditEntry.after,
    AuditEntry.prev_hash,
    AuditEntry.hash,
)
