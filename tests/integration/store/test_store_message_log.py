"""The message log: recording, completion, idempotent answers, raw-bytes retention."""

from __future__ import annotations

from sqlalchemy import select

from cimhub.store.database import Database
from cimhub.store.models import MessageLog
from cimhub.store.unit_of_work import UnitOfWork


def record(
    uow: UnitOfWork,
    tenant_id: int,
    key: str = "msg-1",
    *,
    source: str = "hes-a",
    received_at: int = 100,
    raw: bytes | None = b"<xml/>",
) -> int:
    return uow.messages.record(
        tenant_id,
        message_key=key,
        source=source,
        verb="created",
        noun="MeterReadings",
        correlation_id="c-1",
        transport="http",
        size=len(raw or b""),
        raw=raw,
        received_at=received_at,
    )


def handled(
    db: Database,
    tenant_id: int,
    result: str,
    reply: bytes,
    *,
    at: int,
    key: str = "msg-1",
    source: str = "hes-a",
) -> int:
    with db.unit_of_work(hub=True) as uow:
        log_id = record(uow, tenant_id, key, source=source, received_at=at)
        uow.messages.complete(
            log_id, result=result, reply_code="0.0", reply=reply, completed_at=at + 1
        )
    return log_id


def test_record_and_complete_store_every_field(db: Database, tenant_id: int) -> None:
    log_id = handled(db, tenant_id, "OK", b"<reply/>", at=100)
    with db.unit_of_work(hub=True) as uow:
        row = uow.session.get(MessageLog, log_id)
        assert row is not None
        assert (row.tenant_id, row.message_key, row.source, row.verb, row.noun) == (
            tenant_id,
            "msg-1",
            "hes-a",
            "created",
            "MeterReadings",
        )
        assert (row.correlation_id, row.transport, row.size, row.raw) == (
            "c-1",
            "http",
            6,
            b"<xml/>",
        )
        assert (row.result, row.reply_code, row.reply, row.received_at, row.completed_at) == (
            "OK",
            "0.0",
            b"<reply/>",
            100,
            101,
        )


def test_find_completed_ignores_failed_and_returns_the_latest_ok(
    db: Database, tenant_id: int
) -> None:
    with db.unit_of_work(hub=True) as uow:
        assert uow.messages.find_completed(tenant_id, "hes-a", "msg-1") is None
    handled(db, tenant_id, "FAILED", b"failed", at=100)
    with db.unit_of_work(hub=True) as uow:
        assert uow.messages.find_completed(tenant_id, "hes-a", "msg-1") is None
        record(uow, tenant_id)  # received, never completed: no answer either
    handled(db, tenant_id, "OK", b"first ok", at=200)
    handled(db, tenant_id, "PARTIAL", b"later partial", at=300)
    handled(db, tenant_id, "FAILED", b"failed again", at=400)
    with db.unit_of_work(hub=True) as uow:
        assert uow.messages.find_completed(tenant_id, "hes-a", "msg-1") == (
            "PARTIAL",
            b"later partial",
        )
        assert uow.messages.find_completed(tenant_id, "hes-b", "msg-1") is None
        assert uow.messages.find_completed(tenant_id, "hes-a", "msg-2") is None
        other = uow.tenants.ensure("discom-b")
        assert uow.messages.find_completed(other, "hes-a", "msg-1") is None


def test_prune_raw_drops_old_raw_bytes_only(db: Database, tenant_id: int) -> None:
    with db.unit_of_work(hub=True) as uow:
        old = [record(uow, tenant_id, f"old-{i}", received_at=100 + i) for i in range(3)]
        record(uow, tenant_id, "never-had-raw", received_at=50, raw=None)
        new = record(uow, tenant_id, "new", received_at=1_000)
    with db.unit_of_work(hub=True) as uow:
        assert uow.messages.prune_raw(older_than=500) == 3
    with db.unit_of_work(hub=True) as uow:
        raws = dict(uow.session.execute(select(MessageLog.id, MessageLog.raw)).all())
        assert uow.messages.prune_raw(older_than=500) == 0
    assert [raws[i] for i in old] == [None] * 3
    assert raws[new] == b"<xml/>"
    assert len(raws) == 5  # rows are kept


def test_many_messages_are_logged_at_once_each_id_naming_its_own(
    db: Database, tenant_id: int
) -> None:
    """A worker's batch: one id per message, in the messages' order, every field kept."""
    rows = [
        {
            "tenant_id": tenant_id,
            "message_key": f"msg-{n}",
            "source": "hes-a",
            "verb": "created",
            "noun": "MeterReadings",
            "correlation_id": None if n % 2 else f"c-{n}",
            "transport": "amqp",
            "size": n,
            "raw": f"<m n='{n}'/>".encode() * n,
            "received_at": 1_000 + n,
        }
        for n in range(64, 0, -1)  # keys not in the order ids are handed out
    ]
    with db.unit_of_work(tenant_id) as uow:
        ids = uow.messages.record_many(rows)
    assert len(set(ids)) == len(rows)
    with db.unit_of_work(tenant_id) as uow:
        for log_id, row in zip(ids, rows, strict=True):
            stored = uow.session.get(MessageLog, log_id)
            assert stored is not None
            assert {k: getattr(stored, k) for k in row} == row


def test_many_messages_are_completed_at_once_each_with_its_own_outcome(
    db: Database, tenant_id: int
) -> None:
    """A worker's batch completed in one statement: each row gets its own result, code and
    reply bytes — none where the reply is not kept (a query's) or there is no code."""
    with db.unit_of_work(tenant_id) as uow:
        ids = [record(uow, tenant_id, f"msg-{n}", received_at=n) for n in range(64)]
    outcomes = [
        {
            "id": log_id,
            "result": "OK" if n % 3 else "FAILED",
            "reply_code": None if n % 4 == 0 else f"{n % 3}.{n}",
            "reply": None if n % 5 == 0 else bytes(range(256)) * (n + 1),  # every byte value
            "completed_at": 2_000 + n,
        }
        for n, log_id in enumerate(ids)
    ]
    with db.unit_of_work(tenant_id) as uow:
        uow.messages.complete_many(list(reversed(outcomes)))  # not in the ids' order
    with db.unit_of_work(tenant_id) as uow:
        for outcome in outcomes:
            stored = uow.session.get(MessageLog, outcome["id"])
            assert stored is not None
            assert {k: getattr(stored, k) for k in outcome} == outcome
