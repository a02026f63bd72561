"""A worker's batch of MeterReadings handled as one group (``Pipeline.handle_many``), on
SQLite and PostgreSQL: every message gets the reply, and the store the rows, that handling
the messages one by one gives — repeats, refusals and a meter named twice included."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from cimhub.app import Hub
from cimhub.bus.pipeline import Accepted, Answer, Inbound, Pipeline
from cimhub.errors import TechnicalError
from cimhub.handlers.reading_ingest import INGEST
from cimhub.handlers.registry import Group, default_registry
from cimhub.message import parser
from cimhub.message.verb import Noun, Verb
from cimhub.testing.messages import created_meter_readings, meter_mrid
from cimhub.testing.replies import ParsedReply
from cimhub.testing.waiting import wait_until

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def accepted(pipeline: Pipeline, raw: bytes, tenant: str) -> Accepted:
    return pipeline.accept(parser.parse(raw, pipeline.limits), Inbound(raw, tenant, "test"))


def as_meter(raw: bytes, meter: int, instead_of: int) -> bytes:
    """The message with another meter's mRID: same timestamps, other values."""
    return raw.replace(meter_mrid(instead_of).encode(), meter_mrid(meter).encode())


def traffic() -> tuple[list[bytes], list[bytes]]:
    """(handled before the batch, the batch): every case a group must keep apart."""
    early = created_meter_readings([3], DAY, 96, message_id="early")
    first = created_meter_readings([1], DAY, 96, message_id="one")
    batch = [
        first,
        created_meter_readings([2], DAY, 96, message_id="two"),
        early,  # a repeat of a message handled before: its original reply
        created_meter_readings([], DAY, 96, message_id="empty"),  # refused outright (1.x)
        first,  # a repeat within the batch: answered after its original
        # meter 5 twice with different values: this message alone is FAILED (2.3)
        as_meter(created_meter_readings([5, 6], DAY, 96, message_id="clash"), 5, 6),
        created_meter_readings([1], DAY + timedelta(days=1), 96, message_id="one-next"),
        # meter 2 again, other values: a second round, new raw versions
        as_meter(created_meter_readings([9], DAY, 96, message_id="two-fixed"), 2, 9),
        created_meter_readings([4, 7], DAY, 96, message_id="four-seven"),
    ]
    return [early], batch


def summary(answer: Answer) -> tuple[str, list[str], list[str], bool]:
    reply = ParsedReply.of(answer.body)
    return reply.result, reply.codes, reply.reasons, answer.replayed


def store_of(hub: Hub, tenant: str) -> dict[str, Any]:
    """What a tenant's store holds, by mRID and message key (ids differ per tenant)."""
    queries = {
        "raw": "SELECT m.mrid, r.ts, r.value, r.version, r.source, l.message_key "
        "FROM interval_reading r JOIN meter m ON m.id = r.meter_id "
        "JOIN message_log l ON l.id = r.message_log_id WHERE r.tenant_id = :t",
        "raw versions": "SELECT m.mrid, r.ts, r.value, r.version FROM interval_reading_version r "
        "JOIN meter m ON m.id = r.meter_id WHERE r.tenant_id = :t",
        "validated": "SELECT m.mrid, v.ts, v.value, v.quality, v.version, v.method "
        "FROM validated_reading v JOIN meter m ON m.id = v.meter_id WHERE v.tenant_id = :t",
        "findings": "SELECT m.mrid, f.rule FROM vee_finding f JOIN meter m ON m.id = f.meter_id "
        "WHERE f.tenant_id = :t",
        "log": "SELECT message_key, result, reply_code FROM message_log WHERE tenant_id = :t",
    }
    with hub.database.unit_of_work(hub=True) as uow:
        t = uow.tenants.ensure(tenant)
        return {
            name: sorted(tuple(row) for row in uow.session.execute(text(sql), {"t": t}))
            for name, sql in queries.items()
        }


def one_by_one(hub: Hub, raws: Sequence[bytes], tenant: str) -> list[Answer]:
    return [hub.pipeline.process(Inbound(raw, tenant, "test")) for raw in raws]


def test_a_group_answers_and_stores_what_one_by_one_handling_does(hub: Hub) -> None:
    early, batch = traffic()
    one_by_one(hub, early, "grouped")
    grouped = hub.pipeline.handle_many([accepted(hub.pipeline, raw, "grouped") for raw in batch])
    one_by_one(hub, early, "alone")
    alone = one_by_one(hub, batch, "alone")

    assert [summary(a) for a in grouped] == [summary(a) for a in alone]  # type: ignore[arg-type]
    assert [summary(a)[:2] for a in grouped] == [  # type: ignore[arg-type]
        ("OK", ["0.0"]),
        ("OK", ["0.0"]),
        ("OK", ["0.0"]),  # early: replayed
        ("FAILED", ["1.9"]),  # no MeterReading at all
        ("OK", ["0.0"]),  # one: replayed
        ("FAILED", ["2.3"]),
        ("OK", ["0.0"]),
        ("OK", ["0.0"]),
        ("OK", ["0.0"]),
    ]
    assert [a.replayed for a in grouped] == [  # type: ignore[union-attr]
        False, False, True, False, True, False, False, False, False
    ]  # fmt: skip
    assert "96 readings: 0 new, 0 unchanged, 96 changed" in summary(grouped[7])[2][0]  # type: ignore[arg-type]
    grouped_store, alone_store = store_of(hub, "grouped"), store_of(hub, "alone")
    assert grouped_store == alone_store
    raw_by_message = {key for *_, key in grouped_store["raw"]}
    # each row names the message that stored it; the clash and the empty one stored nothing
    assert raw_by_message == {"early", "one", "one-next", "two-fixed", "four-seven"}
    assert len(grouped_store["raw"]) == 7 * 96 - 96  # meters 1 (2 days), 2, 3, 4, 7
    assert len(grouped_store["raw versions"]) == 96  # meter 2's first values, kept
    keys = [key for key, *_ in grouped_store["log"]]
    assert sorted(set(keys)) == sorted(keys)  # a repeat is never logged twice


def with_ingest(hub: Hub, handle: Any) -> Pipeline:
    """The hub's pipeline with ``handle`` as MeterReadings ingest's group handler."""
    registry = default_registry()
    verbs = (Verb.CREATED, Verb.CREATE, Verb.CHANGED)
    registry.register(Noun.METER_READINGS.value, verbs, Group(INGEST.prepare, handle))
    return Pipeline(hub.settings, hub.database, registry)


def behind_a_held_batch(hub: Hub, raws: list[bytes]) -> tuple[list[int], list[Answer]]:
    """``raws`` processed by concurrent callers while the first one's batch is held, so
    that the others queue for the group commit: the batch sizes the handler saw, and
    every caller's answer in order."""
    calls: list[int] = []
    release = threading.Event()

    def held(messages: Sequence[tuple[Any, Any]]) -> list[Any]:
        calls.append(len(messages))
        if len(calls) == 1:  # the first caller leads alone; the others queue meanwhile
            release.wait(timeout=60)
        return INGEST.handle(messages)

    pipeline = with_ingest(hub, held)
    with ThreadPoolExecutor(len(raws)) as pool:
        first = pool.submit(pipeline.process, Inbound(raws[0], "t1", "test"))
        wait_until(lambda: calls == [1])
        rest = [pool.submit(pipeline.process, Inbound(raw, "t1", "test")) for raw in raws[1:]]
        wait_until(lambda: pipeline.dispatcher.commits.waiting == len(raws) - 1)  # type: ignore[attr-defined]
        release.set()
        answers = [first.result(timeout=60)] + [f.result(timeout=60) for f in rest]
    return calls, answers


def test_concurrent_callers_share_a_transaction_each_with_its_own_reply(hub: Hub) -> None:
    """Without a broker (the embedded dispatcher), messages that arrive while a batch is
    being handled are handled together next: a group commit."""
    raws = [created_meter_readings([m], DAY, 96, message_id=f"m{m}") for m in range(9)]
    raws += [created_meter_readings([], DAY, 96, message_id="empty"), raws[1]]
    calls, answers = behind_a_held_batch(hub, raws)
    # one batch for the nine others, in the order their threads queued: the refused one
    # and the repeat never reach the handler, and a repeat ends a run (its original first)
    assert calls[0] == 1 and sum(calls[1:]) == 8 and len(calls) in (2, 3)
    assert [summary(a)[:2] for a in answers] == [("OK", ["0.0"])] * 9 + [
        ("FAILED", ["1.9"]),
        ("OK", ["0.0"]),
    ]
    assert answers[-1].replayed and answers[-1].body == answers[1].body
    assert len(store_of(hub, "t1")["raw"]) == 9 * 96


def test_a_group_commit_holds_no_more_message_bytes_than_its_limit(
    make_hub: Callable[..., Hub],
) -> None:
    """Messages waiting for the group commit are taken a batch at a time within
    ``worker_batch_bytes`` (a batch's parsed trees and meter locks stay bounded)."""
    raws = [created_meter_readings([m], DAY, 96, message_id=f"m{m}") for m in range(9)]
    hub = make_hub(worker_batch_bytes=3 * max(map(len, raws)))
    calls, answers = behind_a_held_batch(hub, raws)
    assert calls == [1, 3, 3, 2]  # not one batch of eight
    assert [summary(a)[:2] for a in answers] == [("OK", ["0.0"])] * 9
    assert len(store_of(hub, "t1")["raw"]) == 9 * 96


def test_a_technical_failure_in_a_group_costs_the_others_nothing(hub: Hub) -> None:
    """A group handler that fails (a bug, a lost race) rolls the batch back; each message
    is then handled alone: the failing one gets its TechnicalError, the others their
    replies and their rows."""

    def failing(messages: Sequence[tuple[Any, Any]]) -> list[Any]:
        if any(ctx.source == "HES-BROKEN" for ctx, _ in messages):
            raise TechnicalError("the store lost a race")
        return INGEST.handle(messages)

    pipeline = with_ingest(hub, failing)
    raws = [created_meter_readings([m], DAY, 96, message_id=f"m{m}") for m in range(1, 6)]
    raws[2] = created_meter_readings([3], DAY, 96, message_id="m3", source="HES-BROKEN")
    results = pipeline.handle_many([accepted(pipeline, raw, "t1") for raw in raws])
    assert isinstance(results[2], TechnicalError)
    assert [summary(r)[:2] for i, r in enumerate(results) if i != 2] == [("OK", ["0.0"])] * 4  # type: ignore[arg-type]
    stored = store_of(hub, "t1")
    assert {mrid for mrid, *_ in stored["raw"]} == {meter_mrid(m) for m in (1, 2, 4, 5)}
    assert len(stored["raw"]) == 4 * 96 and len(stored["validated"]) == 4 * 96


@pytest.mark.parametrize("size", [1, 2])
def test_groups_of_one_and_two_messages_take_the_same_path(hub: Hub, size: int) -> None:
    raws = [created_meter_readings([m], DAY, 96) for m in range(size)]
    results = hub.pipeline.handle_many([accepted(hub.pipeline, raw, "t1") for raw in raws])
    assert [summary(r)[:2] for r in results] == [("OK", ["0.0"])] * size  # type: ignore[arg-type]
    assert len(store_of(hub, "t1")["raw"]) == size * 96


def test_a_batch_too_large_for_the_lock_table_is_handled_one_by_one(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker's batch of large messages may need more meter locks than PostgreSQL's
    lock table holds ("out of shared memory"): the batch is rolled back and its messages
    handled one by one, each OK, instead of being retried whole as if the store were down
    (for ever: the same batch fails the same way)."""
    per_message, count = 800, 32  # 25 600 meters: past a default server's lock table
    raws = [
        created_meter_readings(
            list(range(1 + i * per_message, 1 + (i + 1) * per_message)),
            DAY,
            1,
            message_id=f"big-{i}",
        )
        for i in range(count)
    ]
    pipeline = hub.pipeline
    with caplog.at_level(logging.INFO, logger="cimhub.pipeline"):
        results = pipeline.handle_many([accepted(pipeline, raw, "t1") for raw in raws])
    assert [summary(r)[0] for r in results] == ["OK"] * count  # type: ignore[arg-type]
    rolled_back = f"batch of {count} rolled back" in caplog.text
    assert rolled_back is (hub.database.dialect == "postgresql")  # SQLite locks no meters
    assert len(store_of(hub, "t1")["raw"]) == per_message * count
