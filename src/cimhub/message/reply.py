"""Replies: one Outcome type, rendered as a 61968-100 ResponseMessage in the request's form."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from lxml import etree

from cimhub.errors import CimHubError, Level
from cimhub.message import ns
from cimhub.message.envelope import Envelope, Form

_M = ns.MESSAGE
SOURCE = "cimhub"


class Result(StrEnum):
    OK = "OK"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class ReplyError:
    """One Reply/Error: a code from errors.CODES, the reason, and where it happened."""

    code: str
    reason: str
    level: Level = Level.FATAL
    details: str | None = None
    xpath: str | None = None
    line: int | None = None
    object_id: str | None = None

    @classmethod
    def of(cls, error: CimHubError) -> ReplyError:
        details = f"line {error.line}" if error.line else None
        return cls(
            error.code, error.reason, error.level, details, error.xpath, error.line, error.object_id
        )


@dataclass(slots=True)
class Outcome:
    """What a handler (or the pipeline) answers: result, errors, an optional payload."""

    result: Result = Result.OK
    errors: list[ReplyError] = field(default_factory=list)
    #: An element, or one already written as UTF-8 XML text (no declaration, its own
    #: namespace declared), which the reply carries as is.
    payload: etree._Element | bytes | None = None
    code: str = "0.0"  # the success code when there are no errors: 0.0, 0.1, 0.2, 0.3
    summary: str = ""  # the reason text of the success entry (e.g. what was stored)
    continuation: str | None = None  # token for the next page of a paged reply
    #: The full asynchronous reply follows later, written by whoever completes it (an
    #: on-demand read's); the pipeline sends only this acknowledgement now.
    deferred: bool = False

    @classmethod
    def failed(cls, error: CimHubError) -> Outcome:
        return cls(Result.FAILED, [ReplyError.of(error)])

    @property
    def first_code(self) -> str:
        return self.errors[0].code if self.errors else self.code


def render_reply(
    request: Envelope | None,
    outcome: Outcome,
    *,
    noun: str = "",
    strong: bool = False,
    correlation: str | None = None,
) -> bytes:
    """The ResponseMessage answering `request` (strongly typed if the request was).

    Without a readable request, `noun` and `strong` say how the sender wrote it and
    `correlation` is what its header said (CorrelationID, else MessageID), if anything.
    """
    if request is not None:
        noun, strong = request.noun, request.form is Form.STRONG
    strong = strong and bool(noun)
    outer = ns.message_ns(noun) if strong else _M
    root = etree.Element(
        ns.qname(outer, f"{noun}ResponseMessage" if strong else "ResponseMessage"),
        nsmap={None: outer, "msg": _M} if strong else {None: _M},
    )
    _header(etree.SubElement(root, ns.qname(outer, "Header")), request, noun, correlation)
    _reply(etree.SubElement(root, ns.qname(outer, "Reply")), outcome)
    if isinstance(outcome.payload, bytes):
        return _with_text_payload(root, outer, outcome.payload)
    if outcome.payload is not None:
        etree.SubElement(root, ns.qname(outer, "Payload")).append(outcome.payload)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _with_text_payload(root: etree._Element, outer: str, payload: bytes) -> bytes:
    """The reply serialised around an empty Payload (its last element, in the default
    namespace: ``<Payload/>``), then the payload's text put in it — not parsed and
    serialised again (a meter-month is ~3 000 readings)."""
    etree.SubElement(root, ns.qname(outer, "Payload"))
    text = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    head, empty, tail = text.rpartition(b"<Payload/>")
    if not empty:  # the reply's namespaces are written by us: a bug, not bad input
        raise ValueError("a reply without its empty Payload element")
    return b"".join((head, b"<Payload>", payload, b"</Payload>", tail))


def _sub(parent: etree._Element, local: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, ns.qname(_M, local)).text = text


def _header(
    header: etree._Element, request: Envelope | None, noun: str, correlation: str | None
) -> None:
    _sub(header, "Verb", "reply")
    _sub(header, "Noun", noun)
    _sub(header, "Timestamp", datetime.now(UTC).isoformat(timespec="seconds"))
    _sub(header, "Source", SOURCE)
    _sub(header, "MessageID", str(uuid.uuid4()))
    if request is not None:
        correlation = request.header.correlation_id or request.header.message_id
    _sub(header, "CorrelationID", correlation)


def loose_correlation(root: etree._Element) -> str | None:
    """CorrelationID (else MessageID) from the header of a message that could not be
    read as a whole (schema-invalid, unsupported): still worth echoing to the sender."""
    for local in ("CorrelationID", "MessageID"):
        found = root.find(f"./*/{{{_M}}}{local}")
        if found is not None and found.text and found.text.strip():
            return found.text.strip()
    return None


def _reply(reply: etree._Element, outcome: Outcome) -> None:
    _sub(reply, "Result", outcome.result.value)
    errors = outcome.errors or [ReplyError(outcome.code, outcome.summary, Level.INFORM)]
    for error in errors:
        el = etree.SubElement(reply, ns.qname(_M, "Error"))
        _sub(el, "code", error.code)
        _sub(el, "level", error.level.value)
        _sub(el, "reason", error.reason or None)
        _sub(el, "details", error.details)
        _sub(el, "xpath", error.xpath)
        if error.object_id:
            obj = etree.SubElement(el, ns.qname(_M, "ID"))
            obj.text = error.object_id
    if outcome.continuation:
        ident = etree.SubElement(
            reply, ns.qname(_M, "ID"), kind="transaction", idType="continuation"
        )
        ident.text = outcome.continuation
