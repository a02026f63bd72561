"""The one message pipeline every transport uses.

receive → parse (hardened) → normalise legacy namespaces → check the root namespace →
validate (compiled XSDs) → read the envelope → find the handler → idempotency →
handle in one transaction with the message log → reply.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from lxml import etree

from cimhub.errors import (
    CimHubError,
    FunctionalError,
    TechnicalError,
    UnknownNamespaceError,
    UnsupportedVerbNounError,
)
from cimhub.handlers.registry import HandlerContext, Registry
from cimhub.message import ns, parser, schema
from cimhub.message.envelope import Envelope, read_envelope
from cimhub.message.reply import Outcome, Result, render_reply
from cimhub.message.verb import Verb
from cimhub.settings import Settings
from cimhub.store.database import Database

log = logging.getLogger("cimhub.pipeline")


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message as a transport received it."""

    raw: bytes
    tenant: str
    transport: str
    default_verb: Verb = Verb.CREATED  # for bare payloads (files, CLI)


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply bytes and what the transport needs to choose its status."""

    body: bytes
    result: Result
    code: str
    technical: bool = False
    replayed: bool = False  # a repeated message answered with its original reply


class Pipeline:
    def __init__(self, settings: Settings, database: Database, registry: Registry) -> None:
        self.settings = settings
        self.database = database
        self.registry = registry
        self.limits = parser.Limits(settings.max_message_bytes, settings.max_xml_depth)
        schema.compiled_schema()  # compile at start-up, not on the first message

    def process(self, inbound: Inbound) -> Answer:
        """Handle raw bytes (HTTP body, file, queue message)."""
        try:
            root = parser.parse(inbound.raw, self.limits)
        except FunctionalError as exc:
            return self._refuse(inbound, None, exc)
        return self.process_element(root, inbound)

    def process_element(self, root: etree._Element, inbound: Inbound) -> Answer:
        """Handle an already parsed message element (e.g. a SOAP Body's child)."""
        started = time.perf_counter()
        envelope: Envelope | None = None
        try:
            envelope = self._accept(root, inbound)
            answer = self._dispatch(envelope, inbound)
        except FunctionalError as exc:
            return self._refuse(inbound, envelope, exc, root)
        except TechnicalError as exc:
            log.exception("technical failure on %s message", inbound.transport)
            return self._refuse(inbound, envelope, exc, root)
        except Exception as exc:  # a bug must not take the hub down; the sender gets 5.2
            log.exception("unexpected failure on %s message", inbound.transport)
            return self._refuse(inbound, envelope, TechnicalError(f"internal error: {exc!r}"), root)
        log.info(
            "%s %s %s → %s %s in %.1f ms",
            inbound.transport,
            envelope.verb,
            envelope.noun,
            answer.result,
            answer.code,
            (time.perf_counter() - started) * 1000,
        )
        return answer

    def _accept(self, root: etree._Element, inbound: Inbound) -> Envelope:
        aliases = self.settings.namespace_aliases
        if aliases and parser.mentions_alias(inbound.raw, aliases):
            parser.normalise_namespaces(root, aliases)
        known = schema.known_namespaces()
        uri, local = ns.split(root.tag)
        if uri not in known:
            raise UnknownNamespaceError(f"root element {local!r} is in unknown namespace {uri!r}")
        schema.validate(root)
        envelope = read_envelope(
            root,
            default_verb=inbound.default_verb,
            max_decompressed=self.settings.max_decompressed_bytes,
        )
        if envelope.payload is not None:
            payload_uri, payload_local = ns.split(envelope.payload.tag)
            if payload_uri not in known:
                raise UnknownNamespaceError(
                    f"payload element {payload_local!r} is in unknown namespace {payload_uri!r}"
                )
            if envelope.inflated:
                schema.validate(envelope.payload)
        return envelope

    def _dispatch(self, envelope: Envelope, inbound: Inbound) -> Answer:
        handler = self.registry.get(envelope.noun, envelope.verb)
        if handler is None:
            raise UnsupportedVerbNounError(
                f"this hub does not handle {envelope.verb} {envelope.noun}", xpath="Header"
            )
        header = envelope.header
        source = header.source or ""
        key = header.message_id or "sha256:" + hashlib.sha256(inbound.raw).hexdigest()
        now = int(time.time())
        with self.database.unit_of_work() as uow:
            tenant_id = uow.tenants.ensure(inbound.tenant)
            if envelope.verb is not Verb.GET:  # queries have no side effects: always fresh
                earlier = uow.messages.find_completed(tenant_id, source, key)
                if earlier is not None:
                    result, body = earlier
                    log.info(
                        "repeat of message %s from %r answered with its original reply", key, source
                    )
                    return Answer(body, Result(result), "0.0", replayed=True)
            log_id = uow.messages.record(
                tenant_id,
                message_key=key,
                source=source,
                verb=envelope.verb.value,
                noun=envelope.noun,
                correlation_id=header.correlation_id,
                transport=inbound.transport,
                size=len(inbound.raw),
                raw=inbound.raw if self.settings.raw_retention_days else None,
                received_at=now,
            )
            context = HandlerContext(uow, tenant_id, self.settings, log_id, now, source)
            outcome = handler(context, envelope)
            body = render_reply(envelope, outcome)
            uow.messages.complete(
                log_id,
                result=outcome.result.value,
                reply_code=outcome.first_code,
                reply=body,
                completed_at=int(time.time()),
            )
        return Answer(body, outcome.result, outcome.first_code)

    def _refuse(
        self,
        inbound: Inbound,
        envelope: Envelope | None,
        error: CimHubError,
        root: etree._Element | None = None,
    ) -> Answer:
        """Answer FAILED, and log the refused message in a transaction of its own."""
        outcome = Outcome.failed(error)
        if envelope is None and root is not None:  # answer a strongly-typed message in kind
            body = render_reply(None, outcome, **ns.reply_shape_of(root.tag))
        else:
            body = render_reply(envelope, outcome)
        technical = isinstance(error, TechnicalError)
        if not technical:
            log.warning("refused %s message: %s %s", inbound.transport, error.code, error.reason)
        self._log_failure(inbound, envelope, outcome, body)
        return Answer(body, Result.FAILED, error.code, technical=technical)

    def _log_failure(
        self, inbound: Inbound, envelope: Envelope | None, outcome: Outcome, body: bytes
    ) -> None:
        header = envelope.header if envelope else None
        now = int(time.time())
        try:
            with self.database.unit_of_work() as uow:
                tenant_id = uow.tenants.ensure(inbound.tenant)
                log_id = uow.messages.record(
                    tenant_id,
                    message_key=(
                        header.message_id
                        if header and header.message_id
                        else "sha256:" + hashlib.sha256(inbound.raw).hexdigest()
                    ),
                    source=(header.source or "") if header else "",
                    verb=header.verb.value if header else "",
                    noun=header.noun if header else "",
                    correlation_id=header.correlation_id if header else None,
                    transport=inbound.transport,
                    size=len(inbound.raw),
                    raw=inbound.raw[: self.limits.max_bytes]
                    if self.settings.raw_retention_days
                    else None,
                    received_at=now,
                )
                uow.messages.complete(
                    log_id,
                    result=outcome.result.value,
                    reply_code=outcome.first_code,
                    reply=body,
                    completed_at=now,
                )
        except Exception:  # logging a refusal must never turn it into a crash
            log.exception("could not log a refused message")
