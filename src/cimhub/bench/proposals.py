"""Prototypes of pipeline changes, measured on the same traffic as the product.

* Grouped: a worker takes up to N waiting one-meter messages and handles them in ONE
  transaction — each in its own savepoint, so a refused or failing message rolls back
  alone — and sends every reply after the commit. It saves the commit (and its fsync)
  per message, not the dozen other round trips.
* Batched: the same group, but every step is done once for the group: one idempotency
  query, one multi-row message-log insert, the readings of all messages mapped and
  stored by ONE handler call (one meter look-up, one COPY), one multi-row completion.
  Here the readings carry the group's first log id; a real batch API would carry each
  message's (one more COPY column).

These are measurements, not the product: ``Pipeline.process`` still commits per message.
They follow the pipeline's steps (parse, validate, envelope, idempotency, message log,
handler, reply) closely enough to price the change.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import insert, select, update

from cimhub.bench.context import TENANT, BenchError, Context
from cimhub.bench.ingest import TRANSPORT, send, vee_built
from cimhub.bench.scenario import Figure
from cimhub.bus.pipeline import Pipeline
from cimhub.handlers.registry import HandlerContext
from cimhub.message import parser, schema
from cimhub.message.envelope import Envelope, read_envelope
from cimhub.message.reply import Outcome, Result, render_reply
from cimhub.store.models import MessageLog


def grouped(ctx: Context) -> list[Figure]:
    return _measure(ctx, "a transaction", _process_group)


def batched(ctx: Context) -> list[Figure]:
    return _measure(ctx, "batched", _process_batch)


def _measure(
    ctx: Context, label: str, process: Callable[[Pipeline, Sequence[bytes]], Any]
) -> list[Figure]:
    figures = []
    traffic = ctx.traffic(1)
    for backend in ctx.backends:
        for group in ctx.plan.groups:
            with ctx.database(backend) as url:
                # VEE off (when built) on both sides of the comparison: it prices the
                # commits alone, whatever VEE costs a message today.
                pipeline = ctx.pipeline(url, **({"vee_enabled": False} if vee_built() else {}))
                for raw in traffic.warmup:
                    send(pipeline, raw)
                title = f"proposal {backend}: {traffic.label} × {group} {label}"
                with ctx.task(title, traffic.readings) as advance:
                    started = time.perf_counter()
                    for first in range(0, len(traffic.messages), group):
                        batch = traffic.messages[first : first + group]
                        process(pipeline, batch)
                        advance(len(batch) * traffic.intervals)
                    elapsed = time.perf_counter() - started
            figures.append(
                Figure(
                    "proposal",
                    (backend, f"{traffic.label}, {group} {label}"),
                    {"e2e": traffic.readings / elapsed},
                )
            )
    return figures


def _process_group(pipeline: Pipeline, batch: Sequence[bytes]) -> list[bytes]:
    """Handle ``batch`` in one transaction, one savepoint per message; replies after commit."""
    replies: list[bytes] = []
    registry, settings = pipeline.registry, pipeline.settings
    with pipeline.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        for raw in batch:
            root = parser.parse(raw, pipeline.limits)
            schema.validate(root)
            envelope = read_envelope(root)
            handler = registry.get(envelope.noun, envelope.verb)
            assert handler is not None
            header = envelope.header
            key = header.message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
            now = int(time.time())
            with uow.session.begin_nested():
                if uow.messages.find_completed(tenant_id, header.source or "", key):
                    raise BenchError("a benchmark message was a repeat")
                log_id = uow.messages.record(
                    tenant_id,
                    message_key=key,
                    source=header.source or "",
                    verb=envelope.verb.value,
                    noun=envelope.noun,
                    correlation_id=header.correlation_id,
                    transport=TRANSPORT,
                    size=len(raw),
                    raw=raw,
                    received_at=now,
                )
                context = HandlerContext(uow, tenant_id, settings, log_id, now, header.source or "")
                outcome = handler(context, envelope)
                if outcome.result is not Result.OK:
                    raise BenchError(f"grouped ingest answered {outcome.result}")
                body = render_reply(envelope, outcome)
                uow.messages.complete(
                    log_id, result="OK", reply_code=outcome.first_code, reply=body, completed_at=now
                )
            replies.append(body)
    return replies  # sent only now: nothing is acknowledged before it is committed


def _process_batch(pipeline: Pipeline, batch: Sequence[bytes]) -> list[bytes]:
    """Handle ``batch`` as one: every step once for the group; replies after commit."""
    envelopes = []
    for raw in batch:
        root = parser.parse(raw, pipeline.limits)
        schema.validate(root)
        envelopes.append(read_envelope(root))
    first = envelopes[0]
    handler = pipeline.registry.get(first.noun, first.verb)
    assert handler is not None and first.payload is not None
    now = int(time.time())
    with pipeline.database.unit_of_work(hub=True) as uow:
        tenant_id = uow.tenants.ensure(TENANT)
        _refuse_repeats(uow, tenant_id, envelopes)
        log_ids = _log(uow, tenant_id, batch, envelopes, now)
        for envelope in envelopes[1:]:  # one payload holding every message's readings
            assert envelope.payload is not None
            first.payload.extend(list(envelope.payload))
        source = first.header.source or ""
        context = HandlerContext(uow, tenant_id, pipeline.settings, log_ids[0], now, source)
        outcome = handler(context, first)
        if outcome.result is not Result.OK:
            raise BenchError(f"batched ingest answered {outcome.result}")
        replies = [render_reply(e, Outcome(summary="stored")) for e in envelopes]
        uow.session.execute(  # ORM bulk UPDATE by primary key: one executemany
            update(MessageLog),
            [
                {"id": i, "result": "OK", "reply_code": "0.0", "reply": b, "completed_at": now}
                for i, b in zip(log_ids, replies, strict=True)
            ],
        )
    return replies


def _refuse_repeats(uow: Any, tenant_id: int, envelopes: Sequence[Envelope]) -> None:
    keys = [e.header.message_id for e in envelopes]
    seen = uow.session.execute(
        select(MessageLog.id).where(
            MessageLog.tenant_id == tenant_id,
            MessageLog.message_key.in_(keys),
            MessageLog.result.in_(("OK", "PARTIAL")),
        )
    ).first()
    if seen is not None:
        raise BenchError("a benchmark message was a repeat")


def _log(
    uow: Any, tenant_id: int, batch: Sequence[bytes], envelopes: Sequence[Envelope], now: int
) -> list[int]:
    rows = [
        {
            "tenant_id": tenant_id,
            "message_key": e.header.message_id,
            "source": e.header.source or "",
            "verb": e.verb.value,
            "noun": e.noun,
            "correlation_id": e.header.correlation_id,
            "transport": TRANSPORT,
            "size": len(raw),
            "raw": raw,
            "received_at": now,
        }
        for raw, e in zip(batch, envelopes, strict=True)
    ]
    result = uow.session.execute(
        insert(MessageLog).returning(MessageLog.id, sort_by_parameter_order=True), rows
    )
    return list(result.scalars())
