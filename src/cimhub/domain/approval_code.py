"""One-time codes for approvals (the MP practice, seed 004: the authority approving a
disconnection list gets an OTP): issued to one approver for one exact list of commands,
short-lived, single use, a few attempts, kept only as a salted scrypt hash.

A code is six (or more) random digits: guessing one in its few attempts has odds of about
one in 200 000, and the hash is slow on purpose for whoever reads the table. An approver may
ask for only a few codes in a window, so the guesses are bounded too: at most
requests × attempts per window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from cimhub.errors import DomainRuleError, RateLimitedError


class ApprovalCodeError(DomainRuleError):
    """An approval refused for its one-time code (3.10–3.15), or no code could be sent."""

    code = "3.10"
    #: The audit action's last word (``approval.code.<verdict>``).
    verdict = "missing"


class CodeRequiredError(ApprovalCodeError):
    code, verdict = "3.10", "missing"


class WrongCodeError(ApprovalCodeError):
    code, verdict = "3.11", "wrong"


class ExpiredCodeError(ApprovalCodeError):
    code, verdict = "3.12", "expired"


class UsedCodeError(ApprovalCodeError):
    code, verdict = "3.13", "reused"


class VoidCodeError(ApprovalCodeError):
    code, verdict = "3.14", "void"


class OtherListError(ApprovalCodeError):
    code, verdict = "3.15", "other-list"


class NoContactError(ApprovalCodeError):
    code, verdict = "3.16", "no-contact"


class TooManyCodesError(RateLimitedError):
    """The approver asked for as many codes as the window allows (6.3, HTTP 429)."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Policy:
    ttl_seconds: int = 300
    max_attempts: int = 3
    digits: int = 6
    requests: int = 5  #: codes one approver may ask for per window
    window_seconds: int = 900

    def check_request(self, issued_at: Iterable[int], at: int) -> None:
        """Refuse a new code while the approver's codes of the last window (their issue
        times) reach ``requests``; the refusal says when the oldest leaves the window."""
        recent = sorted(t for t in issued_at if t > at - self.window_seconds)
        if len(recent) < self.requests:
            return
        wait = max(1, recent[-self.requests] + self.window_seconds - at)
        raise TooManyCodesError(
            f"{len(recent)} one-time codes asked for in the last {self.window_seconds} s "
            f"(at most {self.requests}): ask again in {wait} s",
            wait,
        )


@dataclass(slots=True)
class Challenge:
    """A code issued to ``approver`` for the commands ``mrids`` (``digest`` binds them)."""

    approver: str
    mrids: tuple[str, ...]
    salt: str
    code_hash: str
    created_at: int
    expires_at: int
    max_attempts: int
    attempts: int = 0
    used_at: int | None = None
    id: int | None = None

    @property
    def digest(self) -> str:
        return list_digest(self.mrids)

    def redeem(self, code: str, mrids: Iterable[str], at: int) -> None:
        """Use the code for exactly these commands, or raise why not (a wrong code counts
        as an attempt; the last allowed wrong one voids the code)."""
        if self.used_at is not None:
            raise UsedCodeError("the one-time code was used already: ask for a new one")
        if self.attempts >= self.max_attempts:
            raise VoidCodeError("too many wrong codes: ask for a new one")
        if at >= self.expires_at:
            raise ExpiredCodeError("the one-time code has expired: ask for a new one")
        if list_digest(mrids) != self.digest:
            raise OtherListError("the one-time code was issued for another list of commands")
        if not hmac.compare_digest(hash_code(code.strip(), self.salt), self.code_hash):
            self.attempts += 1
            left = self.max_attempts - self.attempts
            if left <= 0:
                raise VoidCodeError("wrong one-time code, and no attempt left: ask for a new one")
            raise WrongCodeError(f"wrong one-time code ({left} attempt(s) left)")
        self.used_at = at


def issue(approver: str, mrids: Iterable[str], policy: Policy, at: int) -> tuple[Challenge, str]:
    """A new challenge and its code (the only time the code exists in clear)."""
    code = f"{secrets.randbelow(10**policy.digits):0{policy.digits}d}"
    salt = secrets.token_hex(16)
    challenge = Challenge(
        approver=approver,
        mrids=tuple(sorted(set(mrids))),
        salt=salt,
        code_hash=hash_code(code, salt),
        created_at=at,
        expires_at=at + policy.ttl_seconds,
        max_attempts=policy.max_attempts,
    )
    return challenge, code


def hash_code(code: str, salt: str) -> str:
    """scrypt (RFC 7914; N=2^14, r=8, p=1) of the code with the challenge's own salt."""
    key = hashlib.scrypt(code.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1, dklen=32)
    return key.hex()


def list_digest(mrids: Iterable[str]) -> str:
    """The list a code is bound to, order and repeats aside.

    >>> list_digest(["b", "a", "a"]) == list_digest(["a", "b"])
    True
    """
    return hashlib.sha256("\n".join(sorted(set(mrids))).encode()).hexdigest()


def mask(address: str) -> str:
    """Where a code went, without giving the address away.

    >>> mask("ravi.kumar@discom.example")
    'r***@discom.example'
    >>> mask("+919812345678")
    '+91******5678'
    """
    local, at, domain = address.partition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    keep = max(0, len(address) - 7)
    return address[:3] + "*" * keep + address[3 + keep :]
