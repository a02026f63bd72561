"""Approving commands, with a one-time code where the tenant asks for one (seed 004: the
authority approving a disconnection list gets an OTP).

Without the setting an approval is one step, as before. With it, it is two: the approver
asks for a code for an exact list of commands (``ask``), the hub sends it to the contact an
administrator registered for that approver, and the approval of that list by that
approver succeeds only with that code (``approve``). Every request and every redemption,
granted or refused, is appended to the audit chain in its own transaction's commit — a
wrong code counts against its attempts even though nothing is approved. An approver asks
for at most ``approval_code_requests`` codes per ``approval_code_window_seconds``.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cimhub.domain.approval_code import (
    ApprovalCodeError,
    CodeRequiredError,
    NoContactError,
    OtherListError,
    Policy,
    TooManyCodesError,
    issue,
    mask,
)
from cimhub.domain.command import State
from cimhub.errors import CimHubError, DomainRuleError, TechnicalError, UnknownObjectError
from cimhub.handlers.commands import Commands
from cimhub.handlers.notification import Notification, sender_for
from cimhub.mappings.timestamp import to_text
from cimhub.settings import Settings
from cimhub.store.approval_codes import ApprovalCodeRepository
from cimhub.store.audit import AuditLog
from cimhub.store.unit_of_work import UnitOfWork


class UndeliveredError(TechnicalError):
    """No code could be sent: no notification sender configured, or the sender failed."""

    code = "5.4"


@dataclass(frozen=True, slots=True)
class Issued:
    id: int
    mrids: list[str]
    expires_at: int
    sent_to: str  # masked
    notification: Notification


@dataclass(slots=True)
class Outcome:
    """What an ask or an approval did: ``error`` refuses the whole request."""

    approved: list[str] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    issued: Issued | None = None
    error: CimHubError | None = None


class Approvals:
    """Asks for codes and approves commands inside one unit of work."""

    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self.uow = uow
        self.settings = settings
        self.codes = ApprovalCodeRepository(uow)
        self.policy = Policy(
            settings.approval_code_ttl_seconds,
            settings.approval_code_max_attempts,
            settings.approval_code_digits,
            settings.approval_code_requests,
            settings.approval_code_window_seconds,
        )

    def asks_codes(self, tenant_id: int) -> bool:
        tenant = self.uow.tenants.get(tenant_id)
        return tenant.asks_approval_codes(self.settings.approval_codes)

    def ask(self, tenant_id: int, approver: str, mrids: list[str]) -> Outcome:
        """Issue a code for exactly these commands to the approver's contact."""
        wanted, at = list(dict.fromkeys(mrids)), int(time.time())
        try:
            address = self._contact_for(tenant_id, approver, wanted)
            since = at - self.policy.window_seconds
            self.policy.check_request(self.codes.issued_since(tenant_id, approver, since), at)
        except TooManyCodesError as error:
            self._audit(approver, "rate-limited", "approval-code:none", tenant_id, wanted, error,
                        retry_after=error.retry_after)  # fmt: skip
            return Outcome(error=error)
        except CimHubError as error:
            self._audit(approver, "refused", "approval-code:none", tenant_id, wanted, error)
            return Outcome(error=error)
        challenge, code = issue(approver, wanted, self.policy, at)
        code_id = self.codes.add(tenant_id, challenge)
        where = f"approval-code:{code_id}"
        self._audit(approver, "requested", where, tenant_id, wanted,
                    to=mask(address), expires_at=challenge.expires_at)  # fmt: skip
        note = self._notification(tenant_id, address, code, wanted, challenge.expires_at)
        issued = Issued(code_id, list(challenge.mrids), challenge.expires_at, mask(address), note)
        return Outcome(issued=issued)

    def _contact_for(self, tenant_id: int, approver: str, mrids: list[str]) -> str:
        if not self.asks_codes(tenant_id):
            raise DomainRuleError("this tenant does not ask for one-time codes to approve")
        known = Commands(self.uow).repo.by_mrid(tenant_id, mrids)
        for mrid in mrids:
            if mrid not in known:
                raise UnknownObjectError(f"unknown command {mrid!r}", object_id=mrid)
        address = self.codes.contact(tenant_id, approver, lock=True)
        if not address:
            raise NoContactError(f"no contact is registered for {approver!r} to send a code to")
        check_sender(self.settings)
        return address

    def undelivered(self, tenant_id: int, issued: Issued, approver: str, reason: str) -> None:
        """The code never reached the approver: void it (expired now), and say so."""
        challenge = self.codes.latest(tenant_id, approver, issued.mrids)
        if challenge is not None and challenge.id == issued.id:
            challenge.expires_at = int(time.time())
            self.codes.save(challenge)
        self._audit(approver, "undelivered", f"approval-code:{issued.id}", tenant_id,
                    issued.mrids, reason=reason)  # fmt: skip

    def approve(self, tenant_id: int, approver: str, mrids: list[str], code: str | None) -> Outcome:
        """Approve each command on its own (2.15, 3.4, 3.9 per item) — once the code, where
        one is needed, is the approver's for exactly this list."""
        commands = Commands(self.uow)
        found = commands.repo.by_mrid(tenant_id, mrids, lock=True)
        waiting = any(s.command.state is State.AWAITING_APPROVAL for s in found.values())
        if waiting and self.asks_codes(tenant_id):
            error = self._redeem(tenant_id, approver, mrids, code)
            if error is not None:
                return Outcome(error=error)
        out = Outcome()
        for mrid in mrids:
            stored = found.get(mrid)
            try:
                if stored is None:
                    raise UnknownObjectError(f"unknown command {mrid!r}", object_id=mrid)
                commands.approve(stored, approver)
                out.approved.append(mrid)
            except CimHubError as exc:
                out.refused.append({"mrid": mrid, "code": exc.code, "detail": exc.reason})
        return out

    def _redeem(
        self, tenant_id: int, approver: str, mrids: list[str], code: str | None
    ) -> ApprovalCodeError | None:
        challenge = self.codes.latest(tenant_id, approver, mrids)
        where = f"approval-code:{challenge.id}" if challenge else "approval-code:none"
        try:
            if not code:
                raise CodeRequiredError("a one-time code is needed: ask for one first")
            if challenge is None:
                other = self.codes.latest(tenant_id, approver)
                if other is not None and other.used_at is None:
                    raise OtherListError("your one-time code is for another list of commands")
                raise CodeRequiredError(f"{approver!r} asked for no one-time code for these")
            challenge.redeem(code, mrids, int(time.time()))
        except ApprovalCodeError as error:
            if challenge is not None:
                self.codes.save(challenge)  # a wrong attempt counts
            self._audit(approver, error.verdict, where, tenant_id, mrids, error,
                        attempts=challenge.attempts if challenge else None)  # fmt: skip
            return error
        self.codes.save(challenge)
        self._audit(approver, "accepted", where, tenant_id, mrids)
        return None

    def _audit(
        self,
        approver: str,
        verdict: str,
        where: str,
        tenant_id: int,
        mrids: list[str],
        error: CimHubError | None = None,
        **extra: Any,
    ) -> None:
        after: dict[str, Any] = {"commands": sorted(set(mrids))}
        if error is not None:
            after |= {"code": error.code, "reason": error.reason}
        after |= {k: v for k, v in extra.items() if v is not None}
        tenant = self.uow.tenants.code_of(tenant_id)
        AuditLog(self.uow).record(approver, f"approval.code.{verdict}", where, tenant=tenant,
                                  after=after)  # fmt: skip

    def _notification(
        self, tenant_id: int, address: str, code: str, mrids: list[str], expires_at: int
    ) -> Notification:
        found = Commands(self.uow).repo.by_mrid(tenant_id, mrids)
        kinds = Counter(s.command.kind.value for s in found.values())
        what = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))  # ASCII: SMS
        shown = ", ".join(mrids[:10]) + (f" and {len(mrids) - 10} more" if len(mrids) > 10 else "")
        tenant = self.uow.tenants.code_of(tenant_id)
        body = (
            f"{code} is your one-time code to approve {len(mrids)} command(s) ({what}) "
            f"in {tenant}: {shown}.\nIt is valid until {to_text(expires_at)}, once, for "
            "exactly these commands. If you did not ask for it, tell your administrator."
        )  # the code is in the body only: log senders write subjects
        return Notification((address,), "cimhub: your one-time approval code", body)


def send_code(settings: Settings, issued: Issued) -> None:
    """Send the code now (after the commit that stored it); UndeliveredError if it failed."""
    try:
        sender_for(settings.notify_url, settings.notify_from).send(issued.notification)
    except Exception as exc:  # whatever the sender raised: the approver has no code
        raise UndeliveredError(f"the one-time code was not sent: {exc}") from exc


def check_sender(settings: Settings) -> None:
    """Codes need a sender that reaches people (file, SMTP, HTTP), not the log."""
    if (settings.notify_url or "log:").startswith("log:"):
        raise UndeliveredError(
            "one-time codes need a notification sender: set CIMHUB_NOTIFY_URL "
            "(smtp://…, http(s)://… for an SMS gateway, file://… for tests)"
        )
