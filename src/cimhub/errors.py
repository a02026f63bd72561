"""The hub's exceptions and the one table of 61968-100 reply codes they carry.

CimHubError
├── FunctionalError         the sender's or the data's fault → Reply FAILED, never retried
│   ├── MessageSyntaxError      1.1 not well-formed (line, column)
│   ├── ForbiddenMarkupError    1.2 DTD or entity declaration
│   ├── MessageTooLargeError    1.3
│   ├── NestingTooDeepError     1.4
│   ├── UnknownNamespaceError   1.5
│   ├── SchemaValidationError   1.6 (xpath, line)
│   ├── HeaderError             1.7
│   ├── UnsupportedVerbNounError 1.8
│   ├── InvalidValueError       2.1
│   ├── MissingTimeZoneError    2.2
│   ├── ConflictingDuplicateError 2.3
│   ├── UnknownObjectError      2.15 (noun, mRID)
│   ├── DomainRuleError         3.1
│   ├── NotAuthenticatedError   6.1 (no, wrong or expired credentials)
│   ├── NotPermittedError       6.2 (authenticated, but the role does not allow it)
│   │   └── SessionLimitError   6.4 (a login beyond the user's concurrent sessions)
│   └── RateLimitedError        6.3 (too many requests from this client: retry later)
└── TechnicalError          infrastructure → retried with backoff, then dead-lettered (5.x)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    INFORM = "INFORM"
    WARNING = "WARNING"
    FATAL = "FATAL"
    CATASTROPHIC = "CATASTROPHIC"


@dataclass(frozen=True, slots=True)
class Code:
    """One row of the reply-code table."""

    code: str
    title: str


#: Every code the hub puts in a Reply. `<category>.<number>`; category 0 success,
#: 1 message/envelope, 2 content of an item, 3 domain rule, 5 technical, 6 security.
CODES: dict[str, Code] = {
    c.code: c
    for c in (
        Code("0.0", "OK"),
        Code("0.1", "partial result, more messages follow"),
        Code("0.2", "partial result, last message"),
        Code("0.3", "accepted, the reply follows asynchronously"),
        Code("0.4", "stale data: an on-demand read was requested from the head-end"),
        Code("0.5", "the on-demand read did not complete: the readings stored are given"),
        Code("1.1", "XML not well-formed"),
        Code("1.2", "DTD or entity declaration forbidden"),
        Code("1.3", "message too large"),
        Code("1.4", "nesting too deep"),
        Code("1.5", "unknown namespace"),
        Code("1.6", "schema validation failed"),
        Code("1.7", "header invalid or inconsistent with the message element"),
        Code("1.8", "unsupported verb/noun"),
        Code("1.9", "payload missing or not decodable"),
        Code("2.1", "non-numeric or non-finite value"),
        Code("2.2", "timestamp without a time zone"),
        Code("2.3", "duplicate reading with a different value in one message"),
        Code("2.4", "invalid query"),
        Code("2.5", "event type not mapped to a CIM EndDeviceEventType (stored unmapped)"),
        Code("2.15", "unknown object"),
        Code("2.32", "invalid object reference"),
        Code("3.1", "domain rule violated"),
        Code("3.2", "cycle in a hierarchy"),
        Code("3.3", "duplicate identifier (serial, mRID, consumer number, code)"),
        Code("3.4", "illegal lifecycle transition"),
        Code("3.5", "meter already installed elsewhere"),
        Code("3.6", "usage point already has an active meter of that role"),
        Code("3.7", "overlapping effective dates"),
        Code("3.8", "object still in use"),
        Code("3.9", "approval refused: the requester may not approve their own command"),
        Code("3.10", "approval refused: the tenant asks for a one-time code, none was given"),
        Code("3.11", "approval refused: wrong one-time code"),
        Code("3.12", "approval refused: the one-time code has expired"),
        Code("3.13", "approval refused: the one-time code was used already"),
        Code("3.14", "approval refused: too many wrong codes, the one-time code is void"),
        Code("3.15", "approval refused: the one-time code is for another list of commands"),
        Code("3.16", "no one-time code: the approver has no registered contact"),
        Code("5.1", "storage unavailable"),
        Code("5.2", "internal error"),
        Code("5.3", "head-end unavailable (the command is kept and retried)"),
        Code("5.4", "notification not sent (no sender configured, or the sender failed)"),
        Code("6.1", "not authenticated"),
        Code("6.2", "not permitted"),
        Code("6.3", "rate limit exceeded"),
        Code("6.4", "concurrent session limit reached"),
    )
}


class CimHubError(Exception):
    """Base of every error the hub raises on purpose."""

    code: str = "5.2"
    level: Level = Level.FATAL

    def __init__(
        self,
        reason: str,
        *,
        xpath: str | None = None,
        line: int | None = None,
        object_id: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.xpath = xpath
        self.line = line
        self.object_id = object_id

    @property
    def title(self) -> str:
        return CODES[self.code].title


class FunctionalError(CimHubError):
    """The sender's or the data's fault: answered FAILED, never retried."""

    code = "3.1"


class MessageSyntaxError(FunctionalError):
    code = "1.1"


class ForbiddenMarkupError(FunctionalError):
    code = "1.2"


class MessageTooLargeError(FunctionalError):
    code = "1.3"


class NestingTooDeepError(FunctionalError):
    code = "1.4"


class UnknownNamespaceError(FunctionalError):
    code = "1.5"


class SchemaValidationError(FunctionalError):
    code = "1.6"


class HeaderError(FunctionalError):
    code = "1.7"


class UnsupportedVerbNounError(FunctionalError):
    code = "1.8"


class PayloadError(FunctionalError):
    code = "1.9"


class InvalidValueError(FunctionalError):
    code = "2.1"


class MissingTimeZoneError(FunctionalError):
    code = "2.2"


class ConflictingDuplicateError(FunctionalError):
    code = "2.3"


class InvalidQueryError(FunctionalError):
    code = "2.4"


class UnknownObjectError(FunctionalError):
    code = "2.15"


class DomainRuleError(FunctionalError):
    code = "3.1"


class NotAuthenticatedError(FunctionalError):
    """No credentials, or credentials that do not check out (HTTP 401)."""

    code = "6.1"


class NotPermittedError(FunctionalError):
    """The principal's roles do not grant the permission asked for (HTTP 403)."""

    code = "6.2"


class SessionLimitError(NotPermittedError):
    """A login beyond the user's concurrent-session limit, where the tenant refuses more."""

    code = "6.4"


class RateLimitedError(FunctionalError):
    """The client sent more requests than its rate allows (HTTP 429, Retry-After)."""

    code = "6.3"


class TechnicalError(CimHubError):
    """Infrastructure failed: retried with backoff, then dead-lettered."""

    code = "5.2"


class StorageUnavailableError(TechnicalError):
    code = "5.1"
