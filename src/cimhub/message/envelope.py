"""The one Envelope every inbound message becomes, whatever its form or transport."""

from __future__ import annotations

import base64
import gzip
import zlib
from dataclasses import dataclass, field
from enum import StrEnum

from lxml import etree

from cimhub.errors import HeaderError, PayloadError, UnknownNamespaceError
from cimhub.message import ns
from cimhub.message.verb import QUERY_NOUNS, Verb, parse_verb

GENERIC_ROOTS = {"RequestMessage", "ResponseMessage", "EventMessage", "FaultMessage", "Message"}
_M = ns.MESSAGE


class Form(StrEnum):
    """How the message was written: it decides the shape of the reply."""

    GENERIC = "generic"  # msg:RequestMessage / EventMessage / …
    STRONG = "strong"  # <Verb><Noun> in …/<Noun>Message
    PAYLOAD = "payload"  # a bare noun payload (files, CLI)


@dataclass(frozen=True, slots=True)
class Header:
    verb: Verb
    noun: str
    message_id: str | None = None
    correlation_id: str | None = None
    source: str | None = None
    timestamp: str | None = None
    async_reply: bool = False
    reply_address: str | None = None
    ack_required: bool = False
    revision: str | None = None
    context: str | None = None
    user_id: str | None = None
    organization: str | None = None
    comment: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed, validated message: header, the Request element, the payload element."""

    header: Header
    form: Form
    root: etree._Element
    request: etree._Element | None
    payload: etree._Element | None
    inflated: bool = False  # the payload came from Payload/Compressed: validate it on its own

    @property
    def verb(self) -> Verb:
        return self.header.verb

    @property
    def noun(self) -> str:
        return self.header.noun


def read_envelope(
    root: etree._Element,
    *,
    default_verb: Verb = Verb.CREATED,
    max_decompressed: int = 200 * 1024 * 1024,
) -> Envelope:
    """Read the header and locate Request and Payload, checking they agree with the element."""
    uri, local = ns.split(root.tag)
    if uri == _M and local in GENERIC_ROOTS:
        return _generic(root, max_decompressed)
    if (noun := ns.noun_of_message_ns(uri)) is not None:
        return _strong(root, noun, local, max_decompressed)
    if (noun := ns.noun_of_payload_ns(uri)) is not None and local == noun:
        return _bare_payload(root, noun, default_verb)
    raise UnknownNamespaceError(f"unknown message element {local!r} in namespace {uri!r}")


def _generic(root: etree._Element, max_decompressed: int) -> Envelope:
    header = _header(root.find(f"{{{_M}}}Header"), None, None)
    payload, inflated = _payload(root.find(f"{{{_M}}}Payload"), max_decompressed)
    return Envelope(header, Form.GENERIC, root, root.find(f"{{{_M}}}Request"), payload, inflated)


def _strong(root: etree._Element, message_noun: str, local: str, max_decompressed: int) -> Envelope:
    verb, noun = _verb_noun_of_element(message_noun, local)
    uri = ns.message_ns(message_noun)
    header = _header(root.find(f"{{{uri}}}Header"), verb, noun)
    payload, inflated = _payload(root.find(f"{{{uri}}}Payload"), max_decompressed)
    return Envelope(header, Form.STRONG, root, root.find(f"{{{uri}}}Request"), payload, inflated)


def _verb_noun_of_element(message_noun: str, local: str) -> tuple[Verb, str]:
    """CreatedMeterReadings → (created, MeterReadings); GetMeterReadings → (get, MeterReadings)."""
    if message_noun in QUERY_NOUNS:  # …/GetMeterReadingsMessage
        return Verb.GET, QUERY_NOUNS[message_noun]
    if local == f"{message_noun}ResponseMessage" or local == f"{message_noun}FaultMessage":
        return Verb.REPLY, message_noun
    for verb in Verb:
        if local == verb.element_prefix + message_noun:
            return verb, message_noun
    raise UnknownNamespaceError(
        f"element {local!r} is not a message of {ns.message_ns(message_noun)!r}"
    )


def _bare_payload(root: etree._Element, noun: str, default_verb: Verb) -> Envelope:
    if noun in QUERY_NOUNS:
        return Envelope(Header(Verb.GET, QUERY_NOUNS[noun]), Form.PAYLOAD, root, root, None)
    return Envelope(Header(default_verb, noun), Form.PAYLOAD, root, None, root)


def _text(parent: etree._Element, local: str) -> str | None:
    found = parent.find(f"{{{_M}}}{local}")
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _header(el: etree._Element | None, verb: Verb | None, noun: str | None) -> Header:
    if el is None:
        raise HeaderError("the message has no Header")
    said_verb, said_noun = parse_verb(_text(el, "Verb")), _text(el, "Noun")
    if said_verb is None:
        raise HeaderError(
            f"Header/Verb {_text(el, 'Verb')!r} is not a 61968-100 verb", xpath="Header/Verb"
        )
    if said_noun is None:
        raise HeaderError("Header/Noun is missing", xpath="Header/Noun")
    said_noun = QUERY_NOUNS.get(said_noun, said_noun) if said_verb is Verb.GET else said_noun
    if verb is not None and said_verb is not verb:
        raise HeaderError(
            f"Header/Verb {said_verb} contradicts the message element ({verb})", xpath="Header/Verb"
        )
    if noun is not None and said_noun != noun:
        raise HeaderError(
            f"Header/Noun {said_noun} contradicts the message element ({noun})", xpath="Header/Noun"
        )
    user = el.find(f"{{{_M}}}User")
    return Header(
        verb=said_verb,
        noun=said_noun,
        message_id=_text(el, "MessageID"),
        correlation_id=_text(el, "CorrelationID"),
        source=_text(el, "Source"),
        timestamp=_text(el, "Timestamp"),
        async_reply=(_text(el, "AsyncReplyFlag") or "").lower() in ("true", "1"),
        reply_address=_text(el, "ReplyAddress"),
        ack_required=(_text(el, "AckRequired") or "").lower() in ("true", "1"),
        revision=_text(el, "Revision"),
        context=_text(el, "Context"),
        user_id=_text(user, "UserID") if user is not None else None,
        organization=_text(user, "Organization") if user is not None else None,
        comment=_text(el, "Comment"),
        properties={
            (p.findtext(f"{{{_M}}}Name") or ""): (p.findtext(f"{{{_M}}}Value") or "")
            for p in el.iterfind(f"{{{_M}}}Property")
        },
    )


def _payload(
    el: etree._Element | None, max_decompressed: int
) -> tuple[etree._Element | None, bool]:
    """The payload's noun element; a Compressed payload is inflated (bounded) and parsed."""
    if el is None:
        return None, False
    for child in el:
        if not isinstance(child.tag, str):
            continue
        _, local = ns.split(child.tag)
        if local == "Compressed":
            return _inflate(child.text or "", max_decompressed), True
        if local not in ("Format", "OperationSet"):
            return child, False
    return None, False


def _inflate(text: str, limit: int) -> etree._Element:
    from cimhub.message.parser import Limits, parse  # the same hardened parser

    try:
        packed = base64.b64decode(text, validate=False)
        inflater = zlib.decompressobj(wbits=47)  # gzip or zlib, detected from the header
        data = inflater.decompress(packed, limit + 1)
    except (ValueError, zlib.error, gzip.BadGzipFile) as exc:
        raise PayloadError(f"Payload/Compressed is not base64 gzip/zlib data: {exc}") from exc
    if len(data) > limit:
        raise PayloadError(f"Payload/Compressed inflates past {limit} bytes")
    return parse(data, Limits(max_bytes=limit))
