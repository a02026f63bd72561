"""One-time approval codes and approvers' contacts, per tenant (tables of 0006)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from cimhub.domain.approval_code import Challenge, list_digest
from cimhub.store.approval_models import ApprovalCodeRow, ApproverContactRow
from cimhub.store.models import now

if TYPE_CHECKING:
    from cimhub.store.unit_of_work import UnitOfWork


class ApprovalCodeRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, tenant_id: int, challenge: Challenge) -> int:
        row = ApprovalCodeRow(
            tenant_id=tenant_id,
            approver=challenge.approver,
            digest=challenge.digest,
            commands=json.dumps(list(challenge.mrids)),
            salt=challenge.salt,
            code_hash=challenge.code_hash,
            created_at=challenge.created_at,
            expires_at=challenge.expires_at,
            max_attempts=challenge.max_attempts,
            attempts=challenge.attempts,
            used_at=challenge.used_at,
        )
        self._uow.session.add(row)
        self._uow.session.flush()
        challenge.id = row.id
        return row.id

    def latest(
        self, tenant_id: int, approver: str, mrids: list[str] | None = None
    ) -> Challenge | None:
        """The approver's newest code for exactly these commands (any list when None),
        locked until commit so one code is never redeemed twice at once."""
        query = select(ApprovalCodeRow).where(
            ApprovalCodeRow.tenant_id == tenant_id, ApprovalCodeRow.approver == approver
        )
        if mrids is not None:
            query = query.where(ApprovalCodeRow.digest == list_digest(mrids))
        row = self._uow.session.scalars(
            query.order_by(ApprovalCodeRow.id.desc()).limit(1).with_for_update()
        ).first()
        return _challenge(row) if row is not None else None

    def issued_since(self, tenant_id: int, approver: str, since: int) -> list[int]:
        """When the approver's codes issued after ``since`` were issued (sent or not)."""
        return list(
            self._uow.session.scalars(
                select(ApprovalCodeRow.created_at).where(
                    ApprovalCodeRow.tenant_id == tenant_id,
                    ApprovalCodeRow.approver == approver,
                    ApprovalCodeRow.created_at > since,
                )
            )
        )

    def save(self, challenge: Challenge) -> None:
        """Store the attempts, use and expiry a redemption changed."""
        self._uow.session.execute(
            update(ApprovalCodeRow)
            .where(ApprovalCodeRow.id == challenge.id)
            .values(
                attempts=challenge.attempts,
                used_at=challenge.used_at,
                expires_at=challenge.expires_at,
            )
        )

    # ----- contacts -----

    def contact(self, tenant_id: int, principal: str, *, lock: bool = False) -> str | None:
        """Where the principal's codes go; ``lock`` holds the contact until commit, so one
        approver's code requests are counted one after the other."""
        row = self._uow.session.get(
            ApproverContactRow, (tenant_id, principal), with_for_update=lock or None
        )
        return row.address if row is not None else None

    def contacts(self, tenant_id: int) -> dict[str, str]:
        rows = self._uow.session.scalars(
            select(ApproverContactRow)
            .where(ApproverContactRow.tenant_id == tenant_id)
            .order_by(ApproverContactRow.principal)
        )
        return {r.principal: r.address for r in rows}

    def set_contact(self, tenant_id: int, principal: str, address: str, by: str) -> str | None:
        """Register (or replace) where ``principal``'s codes go; the previous address."""
        session = self._uow.session
        row = session.get(ApproverContactRow, (tenant_id, principal))
        before = row.address if row is not None else None
        if row is None:
            row = ApproverContactRow(tenant_id=tenant_id, principal=principal)
            session.add(row)
        row.address, row.updated_at, row.updated_by = address, now(), by
        session.flush()
        return before


def _challenge(row: ApprovalCodeRow) -> Challenge:
    return Challenge(
        approver=row.approver,
        mrids=tuple(json.loads(row.commands)),
        salt=row.salt,
        code_hash=row.code_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        max_attempts=row.max_attempts,
        attempts=row.attempts,
        used_at=row.used_at,
        id=row.id,
    )
