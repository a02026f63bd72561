"""The one message pipeline every transport uses.

receive → parse (hardened) → normalise legacy namespaces → check the root namespace →
validate (compiled XSDs) → read the envelope → find the handler   (``accept``)
→ dispatch: in-process, or over the bus to a worker                (``Dispatcher``)
→ idempotency → handle in one transaction with the message log and the outbox (``handle``)
→ reply.

``handle_many`` handles a batch of accepted messages in ONE transaction (workers group
small messages: a commit costs milliseconds; the embedded dispatcher groups concurrent
callers' messages the same way, see ``bus.embedded``). Consecutive messages of one tenant
whose handler is a ``Group`` (MeterReadings ingest) are handled as one: one idempotency
query, one message-log insert, one handler call, one completion — each still answered
with its own reply. A message its handler refuses outright (``Group.prepare``) is refused
alone, after the commit; if anything else fails, the batch is rolled back and each message
is handled on its own, so one bad message costs its batch only time, and every message
still gets exactly its own reply.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, cast

from lxml import etree

from cimhub.domain.access import Kind, Principal, message_permission
from cimhub.errors import (
    CimHubError,
    FunctionalError,
    NotPermittedError,
    StorageUnavailableError,
    TechnicalError,
    UnknownNamespaceError,
    UnsupportedVerbNounError,
)
from cimhub.handlers.registry import Group, Handler, HandlerContext, Registry
from cimhub.message import ns, parser, schema
from cimhub.message.envelope import Envelope, read_envelope
from cimhub.message.reply import Outcome, Result, loose_correlation, render_reply
from cimhub.message.verb import Verb
from cimhub.settings import Settings
from cimhub.stages import StageClock, stage
from cimhub.store.database import Database
from cimhub.store.unit_of_work import UnitOfWork

log = logging.getLogger("cimhub.pipeline")


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message as a transport received it."""

    raw: bytes
    tenant: str
    transport: str
    default_verb: Verb = Verb.CREATED  # for bare payloads (files, CLI)
    message_key: str | None = None  # idempotency key chosen upstream (bus messages)
    #: Who sent it; None = unauthenticated loopback mode or an already-checked bus message.
    principal: Principal | None = None
    #: Who sent it, for the audit; defaults to the principal's name (see ``actor``).
    audit_actor: str | None = None

    @property
    def actor(self) -> str | None:
        """The authenticated sender's name (None: anonymous or unknown)."""
        if self.principal is not None and self.principal.kind is not Kind.LOOPBACK:
            return self.principal.name
        return self.audit_actor


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply bytes and what the transport needs to choose its status."""

    body: bytes
    result: Result
    code: str
    technical: bool = False
    replayed: bool = False  # a repeated message answered with its original reply


@dataclass(frozen=True, slots=True)
class Accepted:
    """A parsed, validated message with a handler: ready to dispatch."""

    inbound: Inbound
    envelope: Envelope
    root: etree._Element
    key: str  # idempotency key: MessageID, else a digest of the bytes

    @property
    def wants_async_reply(self) -> bool:
        header = self.envelope.header
        return header.async_reply and bool(header.reply_address)


class Dispatcher(Protocol):
    """Where accepted messages go: handled here, or published to workers."""

    def submit(self, accepted: Accepted) -> Answer: ...


class Announcer(Protocol):
    """Writes outbound messages (events, async replies) in the handler's transaction."""

    def announce(
        self,
        uow: UnitOfWork,
        tenant_id: int,
        accepted: Accepted,
        outcome: Outcome,
        log_id: int,
        reply: bytes,
    ) -> None: ...


class Pipeline:
    def __init__(self, settings: Settings, database: Database, registry: Registry) -> None:
        self.settings = settings
        self.database = database
        self.registry = registry
        self.limits = parser.Limits(settings.max_message_bytes, settings.max_xml_depth)
        from cimhub.bus.embedded import DirectDispatcher  # it needs this module's types

        self.dispatcher: Dispatcher = DirectDispatcher(self)
        self.announcer: Announcer | None = None
        self.clock = StageClock()  #: where messages' time went (/metrics, `cimhub bench`)
        schema.compiled_schema()  # compile at start-up, not on the first message

    def process(self, inbound: Inbound) -> Answer:
        """Handle raw bytes (HTTP body, file, queue message)."""
        with self.clock.running():
            try:
                with stage("parse"):
                    root = parser.parse(inbound.raw, self.limits)
            except FunctionalError as exc:
                return self.refuse(inbound, None, exc)
            return self.process_element(root, inbound)

    def process_element(self, root: etree._Element, inbound: Inbound) -> Answer:
        """Handle an already parsed message element (e.g. a SOAP Body's child)."""
        with self.clock.running():
            return self._process_element(root, inbound)

    def _process_element(self, root: etree._Element, inbound: Inbound) -> Answer:
        started = time.perf_counter()
        envelope: Envelope | None = None
        try:
            accepted = self.accept(root, inbound)
            envelope = accepted.envelope
            with stage("dispatch"):  # on a worker or handler thread: waiting for it
                answer = self.dispatcher.submit(accepted)
        except FunctionalError as exc:
            return self.refuse(inbound, envelope, exc, root)
        except TechnicalError as exc:
            log.exception("technical failure on %s message", inbound.transport)
            return self.refuse(inbound, envelope, exc, root)
        except Exception as exc:  # a bug must not take the hub down; the sender gets 5.2
            log.exception("unexpected failure on %s message", inbound.transport)
            return self.refuse(inbound, envelope, TechnicalError(f"internal error: {exc!r}"), root)
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

    def accept(self, root: etree._Element, inbound: Inbound) -> Accepted:
        """Normalise, validate, read the envelope and find its handler (FunctionalError if not)."""
        with stage("validate"):
            envelope = self._read(root, inbound)
        if inbound.principal is not None:  # RBAC: the message's noun and verb
            wanted = message_permission(envelope.noun, envelope.verb.value)
            if not inbound.principal.allows(wanted):
                raise NotPermittedError(
                    f"{inbound.principal.name!r} may not send {envelope.verb} {envelope.noun}",
                    xpath="Header",
                )
        self._handler(envelope)
        key = (
            envelope.header.message_id
            or inbound.message_key
            or "sha256:" + hashlib.sha256(inbound.raw).hexdigest()
        )
        return Accepted(inbound, envelope, root, key)

    def acknowledgement(self, accepted: Accepted, reason: str = "") -> Answer:
        """The immediate 0.3 reply: accepted, the full reply follows asynchronously."""
        address = accepted.envelope.header.reply_address
        outcome = Outcome(
            code="0.3",
            summary=reason
            or (f"accepted; the reply will be sent to {address}" if address else "accepted"),
        )
        return Answer(render_reply(accepted.envelope, outcome), Result.OK, "0.3")

    def handle(self, accepted: Accepted) -> Answer:
        """Idempotency check, handler and message log in one transaction (raises on failure)."""
        with self.clock.running(), self._unit_of_work(accepted) as uow:
            (result,) = self._handle_in(uow, [accepted])
        if isinstance(result, FunctionalError):
            raise result
        return result

    def handle_many(self, batch: Sequence[Accepted]) -> list[Answer | TechnicalError]:
        """Each message's Answer (a refusal for functional errors) or its TechnicalError.

        One transaction for the whole batch; on any failure, one per message. Raises
        StorageUnavailableError when the store is down (nothing was committed).
        """
        return [  # refusals are logged in transactions of their own, after the commit
            self.refuse(a.inbound, a.envelope, r, a.root) if isinstance(r, FunctionalError) else r
            for a, r in zip(batch, self.handle_together(batch), strict=True)
        ]

    def handle_together(self, batch: Sequence[Accepted]) -> list[Answer | CimHubError]:
        """Each message's Answer, or the error it failed with (a FunctionalError not yet
        refused, or a TechnicalError), as ``handle`` would answer or raise it alone."""
        with self.clock.running():
            return self._handle_together(batch)

    def _handle_together(self, batch: Sequence[Accepted]) -> list[Answer | CimHubError]:
        if len(batch) > 1:
            try:
                with self._unit_of_work(batch[0]) as uow:
                    return list(self._handle_batch(uow, batch))
            except StorageUnavailableError:
                raise
            except Exception as exc:  # rolled back: handle one by one to isolate the culprit
                log.info("batch of %d rolled back (%r); handling one by one", len(batch), exc)
        return [self._handle_one(accepted) for accepted in batch]

    def _unit_of_work(self, first: Accepted) -> AbstractContextManager[UnitOfWork]:
        """A transaction scoped to the first message's tenant when its id is known, else to
        none yet; ``_handle_in`` binds each run to its own tenant (the same: no round trip)."""
        return self.database.unit_of_work(self.database.known_tenant(first.inbound.tenant))

    def _handle_batch(
        self, uow: UnitOfWork, batch: Sequence[Accepted]
    ) -> list[Answer | FunctionalError]:
        """The batch in runs: consecutive messages one Group handles together, else one."""
        results: list[Answer | FunctionalError] = []
        run: list[Accepted] = []
        for accepted in batch:
            if run and not self._joins(run, accepted):
                results += self._handle_in(uow, run)
                run = []
            run.append(accepted)
        return results + self._handle_in(uow, run)

    def _joins(self, run: list[Accepted], accepted: Accepted) -> bool:
        """Whether ``accepted`` may be handled together with ``run``: the same Group and
        tenant, and not a repeat of one of them (a repeat waits for its original)."""
        first, envelope = run[0].envelope, accepted.envelope
        group = self.registry.group(envelope.noun, envelope.verb)
        return (
            group is not None
            and group is self.registry.group(first.noun, first.verb)
            and accepted.inbound.tenant == run[0].inbound.tenant
            and _origin(accepted) not in {_origin(a) for a in run}
        )

    def _handle_one(self, accepted: Accepted) -> Answer | CimHubError:
        try:
            return self.handle(accepted)
        except FunctionalError as exc:
            return exc
        except StorageUnavailableError:
            raise
        except TechnicalError as exc:
            return exc
        except Exception as exc:
            log.exception(
                "unexpected failure handling %s %s", accepted.envelope.verb, accepted.envelope.noun
            )
            return TechnicalError(f"internal error: {exc!r}")

    def _read(self, root: etree._Element, inbound: Inbound) -> Envelope:
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

    def _handler(self, envelope: Envelope) -> Handler:
        handler = self.registry.get(envelope.noun, envelope.verb)
        if handler is None:
            raise UnsupportedVerbNounError(
                f"this hub does not handle {envelope.verb} {envelope.noun}", xpath="Header"
            )
        return handler

    def _handle_in(
        self, uow: UnitOfWork, run: Sequence[Accepted]
    ) -> list[Answer | FunctionalError]:
        """One message, or a run of them that ``_joins`` made: each one's Answer, or the
        FunctionalError its Group refused it with (nothing of it was stored)."""
        first = run[0].envelope
        group = self.registry.group(first.noun, first.verb) or Group.alone(self._handler(first))
        tenant_id = uow.tenants.ensure(run[0].inbound.tenant)
        uow.bind_tenant(tenant_id)  # row-level security: the messages' tenant only
        results = self._screen(uow, tenant_id, run, group)
        todo = [i for i, r in enumerate(results) if isinstance(r, _Prepared)]
        if todo:
            prepared = [cast(_Prepared, results[i]).value for i in todo]
            answers = self._run(uow, tenant_id, [run[i] for i in todo], group, prepared)
            for i, answer in zip(todo, answers, strict=True):
                results[i] = answer
        return cast(list[Answer | FunctionalError], results)

    def _screen(
        self, uow: UnitOfWork, tenant_id: int, run: Sequence[Accepted], group: Group
    ) -> list[Answer | FunctionalError | _Prepared]:
        """Repeats answered with their original reply; the others prepared for the
        handler, or refused by it."""
        earlier = {}
        if run[0].envelope.verb is not Verb.GET:  # queries have no side effects: always fresh
            with stage("idempotency"):
                earlier = uow.messages.find_completed_many(tenant_id, [_origin(a) for a in run])
        screened: list[Answer | FunctionalError | _Prepared] = []
        for accepted in run:
            if (found := earlier.get(_origin(accepted))) is not None:
                screened.append(_replayed(accepted, *found))
                continue
            try:
                with stage("map"):
                    screened.append(_Prepared(group.prepare(accepted.envelope)))
            except FunctionalError as exc:
                screened.append(exc)
        return screened

    def _run(
        self,
        uow: UnitOfWork,
        tenant_id: int,
        run: Sequence[Accepted],
        group: Group,
        prepared: Sequence[object],
    ) -> list[Answer]:
        """Log the messages, handle them, complete the log: one statement each for all."""
        now = int(time.time())
        with stage("message log"):
            log_ids = uow.messages.record_many([self._log_row(tenant_id, a, now) for a in run])
        contexts = [
            self._context(uow, tenant_id, accepted, log_id, now)
            for accepted, log_id in zip(run, log_ids, strict=True)
        ]
        with stage("handle"):
            outcomes = group.handle(list(zip(contexts, prepared, strict=True)))
        return self._complete(uow, tenant_id, run, outcomes, log_ids)

    def _context(
        self, uow: UnitOfWork, tenant_id: int, accepted: Accepted, log_id: int, now: int
    ) -> HandlerContext:
        header, inbound = accepted.envelope.header, accepted.inbound
        source = header.source or ""
        actor = inbound.actor or header.user_id or source
        return HandlerContext(uow, tenant_id, self.settings, log_id, now, source, actor)

    def _complete(
        self,
        uow: UnitOfWork,
        tenant_id: int,
        run: Sequence[Accepted],
        outcomes: Sequence[Outcome],
        log_ids: Sequence[int],
    ) -> list[Answer]:
        """Render each reply, complete the message log in one statement, announce."""
        with stage("reply"):
            bodies = [render_reply(a.envelope, o) for a, o in zip(run, outcomes, strict=True)]
        completed_at = int(time.time())
        with stage("message log"):
            uow.messages.complete_many(
                [
                    {
                        "id": log_id,
                        "result": outcome.result.value,
                        "reply_code": outcome.first_code,
                        # a query's reply is never replayed and may be megabytes a page
                        "reply": None if accepted.envelope.verb is Verb.GET else body,
                        "completed_at": completed_at,
                    }
                    for accepted, outcome, log_id, body in zip(
                        run, outcomes, log_ids, bodies, strict=True
                    )
                ]
            )
        if self.announcer is not None:
            with stage("announce"):
                for accepted, outcome, log_id, body in zip(
                    run, outcomes, log_ids, bodies, strict=True
                ):
                    self.announcer.announce(uow, tenant_id, accepted, outcome, log_id, body)
        return [
            Answer(body, outcome.result, outcome.first_code)
            for outcome, body in zip(outcomes, bodies, strict=True)
        ]

    def _log_row(self, tenant_id: int, accepted: Accepted, now: int) -> dict[str, object]:
        """The message-log row of an accepted message, as received."""
        envelope, inbound = accepted.envelope, accepted.inbound
        header = envelope.header
        return {
            "tenant_id": tenant_id,
            "message_key": accepted.key,
            "source": header.source or "",
            "verb": envelope.verb.value,
            "noun": envelope.noun,
            "correlation_id": header.correlation_id,
            "transport": inbound.transport,
            "size": len(inbound.raw),
            "raw": inbound.raw if self.settings.raw_retention_days else None,
            "received_at": now,
        }

    def refuse(
        self,
        inbound: Inbound,
        envelope: Envelope | None,
        error: CimHubError,
        root: etree._Element | None = None,
    ) -> Answer:
        """Answer FAILED, and log the refused message in a transaction of its own."""
        outcome = Outcome.failed(error)
        if envelope is None and root is not None:  # answer a strongly-typed message in kind
            shape = ns.reply_shape_of(root.tag)
            body = render_reply(None, outcome, **shape, correlation=loose_correlation(root))
        else:
            body = render_reply(envelope, outcome)
        technical = isinstance(error, TechnicalError)
        if not technical:
            log.warning("refused %s message: %s %s", inbound.transport, error.code, error.reason)
        self._log_failure(inbound, envelope, outcome, body)
        return Answer(body, Result.FAILED, error.code, technical=technical)

    _refuse = refuse  # the name earlier code used

    def _log_failure(
        self, inbound: Inbound, envelope: Envelope | None, outcome: Outcome, body: bytes
    ) -> None:
        header = envelope.header if envelope else None
        now = int(time.time())
        try:
            with self.database.unit_of_work(hub=False) as uow:
                tenant_id = uow.tenants.ensure(inbound.tenant)
                uow.bind_tenant(tenant_id)
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


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What a Group's ``prepare`` made of a message (any value, None included)."""

    value: object


def _origin(accepted: Accepted) -> tuple[str, str]:
    """What makes a message a repeat of another: its (source, idempotency key)."""
    return accepted.envelope.header.source or "", accepted.key


def _replayed(accepted: Accepted, result: str, body: bytes) -> Answer:
    source, key = _origin(accepted)
    log.info("repeat of message %s from %r answered with its original reply", key, source)
    return Answer(body, Result(result), "0.0", replayed=True)
