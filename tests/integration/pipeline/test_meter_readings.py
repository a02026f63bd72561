"""MeterReadings through the whole pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer
from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.testing.messages import (
    KWH_15MIN,
    KWH_REGISTER,
    created_meter_readings,
    get_meter_readings,
    load_kwh,
    meter_mrid,
    meter_serial,
    readings_message,
)
from cimhub.testing.replies import ParsedReply

Send = Callable[..., Answer]

DAY = datetime(2026, 11, 20, tzinfo=UTC)


def stored(hub: Hub, tenant: str = "t1", kind: ReadingKind = ReadingKind.INTERVAL) -> int:
    with hub.database.unit_of_work(hub=True) as uow:
        return uow.readings.count(uow.tenants.ensure(tenant), kind)


def expected_values(meters: list[int], start: datetime, intervals: int) -> dict:
    return {
        (
            meter_mrid(m),
            KWH_15MIN,
            int((start + timedelta(minutes=15 * (i + 1))).timestamp()),
        ): load_kwh(m, start + timedelta(minutes=15 * (i + 1)))
        for m in meters
        for i in range(intervals)
    }


def test_readings_in_then_the_same_values_out(hub: Hub, send: Send) -> None:
    reply = ParsedReply.of(send(created_meter_readings([1, 2, 3], DAY, 96)).body)
    assert (reply.result, reply.codes) == ("OK", ["0.0"])
    assert stored(hub) == 3 * 96
    answer = send(
        get_meter_readings(
            [meter_mrid(1), meter_mrid(2), meter_mrid(3)], DAY, DAY + timedelta(days=1)
        )
    )
    got = ParsedReply.of(answer.body)
    assert got.result == "OK"
    assert got.readings() == expected_values([1, 2, 3], DAY, 96)
    assert got.meter_names()[meter_mrid(2)] == [meter_serial(2)]


def test_reply_correlates_with_the_request(send: Send) -> None:
    reply = ParsedReply.of(send(created_meter_readings([1], DAY, 4, message_id="msg-42")).body)
    assert reply.correlation_id == "msg-42"


def test_a_repeated_message_is_answered_from_the_log_and_not_stored_twice(
    hub: Hub, send: Send
) -> None:
    body = created_meter_readings([1, 2], DAY, 96, message_id="hes-a-000001")
    first, second = send(body), send(body)
    assert second.replayed and not first.replayed
    assert second.body == first.body
    assert stored(hub) == 2 * 96


def test_same_readings_under_a_new_message_id_change_nothing(hub: Hub, send: Send) -> None:
    send(created_meter_readings([1], DAY, 96))
    reply = ParsedReply.of(send(created_meter_readings([1], DAY, 96)).body)
    assert reply.result == "OK" and "0 new, 96 unchanged, 0 changed" in reply.reasons[0]
    assert stored(hub) == 96


def test_a_changed_value_becomes_a_new_version(hub: Hub, send: Send) -> None:
    send(created_meter_readings([1], DAY, 4))
    changed = created_meter_readings([1], DAY, 4).replace(
        f"<value>{load_kwh(1, DAY + timedelta(minutes=15))}</value>".encode(),
        b"<value>9.75</value>",
        1,
    )
    reply = ParsedReply.of(send(changed).body)
    assert "1 changed" in reply.reasons[0]
    query = get_meter_readings([meter_mrid(1)], DAY, DAY + timedelta(hours=1))
    option = b"<Option><msg:name>raw</msg:name><msg:value>true</msg:value></Option>"
    raw = query.replace(b"<Request>", b"<Request>" + option)
    ts = int((DAY + timedelta(minutes=15)).timestamp())
    # Raw (Option raw=true) holds the re-sent value; the validated layer (the default)
    # failed it as a spike against its neighbours and holds an estimate instead.
    assert ParsedReply.of(send(raw).body).readings()[(meter_mrid(1), KWH_15MIN, ts)] == 9.75
    assert ParsedReply.of(send(query).body).readings()[(meter_mrid(1), KWH_15MIN, ts)] < 1
    with hub.database.unit_of_work(hub=True) as uow:
        tenant = uow.tenants.ensure("t1")
        [meter_id] = uow.meters.find(tenant, [MeterRef(meter_mrid(1))])
        type_id = uow.reading_types.find_ids([KWH_15MIN])[KWH_15MIN]
        history = uow.readings.versions(tenant, ReadingKind.INTERVAL, meter_id, type_id, ts)
    assert [(v[0], v[1]) for v in history] == [
        (1, load_kwh(1, DAY + timedelta(minutes=15))),
        (2, 9.75),
    ]


def test_unknown_meters_are_refused_when_auto_registration_is_off(
    make_hub: Callable[..., Hub],
) -> None:
    from cimhub.bus.pipeline import Inbound

    hub = make_hub(auto_register_meters=False)
    reply = ParsedReply.of(
        hub.pipeline.process(Inbound(created_meter_readings([7], DAY, 4), "t1", "test")).body
    )
    assert (reply.result, reply.codes) == ("FAILED", ["2.15"])
    assert stored(hub) == 0


def test_get_pages_large_results_without_losing_any(make_hub: Callable[..., Hub]) -> None:
    from cimhub.bus.pipeline import Inbound

    hub = make_hub(page_size=100)
    hub.pipeline.process(Inbound(created_meter_readings([1, 2, 3], DAY, 96), "t1", "test"))
    meters = [meter_mrid(m) for m in (1, 2, 3)]
    seen: dict = {}
    codes, token = [], None
    for _ in range(10):
        page = ParsedReply.of(
            hub.pipeline.process(
                Inbound(
                    get_meter_readings(meters, DAY, DAY + timedelta(days=1), continuation=token),
                    "t1",
                    "test",
                )
            ).body
        )
        assert page.result == "PARTIAL"
        assert not set(page.readings()) & set(seen), "a reading came twice"
        seen.update(page.readings())
        codes.append(page.codes[0])
        token = page.continuation
        if token is None:
            break
    assert codes == ["0.1", "0.1", "0.2"]
    assert seen == expected_values([1, 2, 3], DAY, 96)


def test_get_by_name_and_by_time_window(send: Send) -> None:
    send(created_meter_readings([1, 2], DAY, 96))
    reply = ParsedReply.of(
        send(
            get_meter_readings(
                names=[meter_serial(2)],
                start=DAY + timedelta(hours=1),
                end=DAY + timedelta(hours=2),
            )
        ).body
    )
    assert reply.result == "OK"
    # (start, end]: the four intervals ending 01:15, 01:30, 01:45 and 02:00
    assert sorted(ts for (_, _, ts) in reply.readings()) == [
        int((DAY + timedelta(hours=1, minutes=15 * k)).timestamp()) for k in (1, 2, 3, 4)
    ]
    assert {m for (m, _, _) in reply.readings()} == {meter_mrid(2)}


def test_get_for_an_unknown_meter_fails_with_2_15(send: Send) -> None:
    reply = ParsedReply.of(
        send(get_meter_readings(["no-such-meter"], DAY, DAY + timedelta(days=1))).body
    )
    assert (reply.result, reply.codes) == ("FAILED", ["2.15"])


def test_tenants_do_not_see_each_other(send: Send) -> None:
    send(created_meter_readings([1], DAY, 4), tenant="discom-a")
    reply = ParsedReply.of(
        send(
            get_meter_readings([meter_mrid(1)], DAY, DAY + timedelta(days=1)), tenant="discom-b"
        ).body
    )
    assert (reply.result, reply.codes) == ("FAILED", ["2.15"])


def test_a_compressed_payload_is_inflated_and_validated(hub: Hub, send: Send) -> None:
    plain = created_meter_readings([1], DAY, 4)
    start, end = plain.index(b"<MeterReadings "), plain.index(b"</Payload>")
    packed = base64.b64encode(gzip.compress(plain[start:end])).decode()
    body = plain[:start] + f"<Compressed>{packed}</Compressed>".encode() + plain[end:]
    reply = ParsedReply.of(send(body).body)
    assert reply.result == "OK"
    assert stored(hub) == 4


def test_refused_messages_are_logged(hub: Hub, send: Send) -> None:
    send(b"<not-closed>")
    with hub.database.unit_of_work(hub=True) as uow:
        from sqlalchemy import text

        rows = uow.session.execute(text("SELECT result, reply_code FROM message_log")).all()
    assert [tuple(r) for r in rows] == [("FAILED", "1.1")]


def test_a_refused_message_still_echoes_its_correlation(send: Send) -> None:
    body = created_meter_readings([1], DAY, 4, message_id="hes-a-bad-1").replace(
        b"<value>", b"<bogus/><value>", 1
    )
    reply = ParsedReply.of(send(body).body)
    assert (reply.result, reply.codes) == ("FAILED", ["1.6"])
    assert reply.correlation_id == "hes-a-bad-1"


def test_raw_bytes_are_dropped_after_the_retention_but_the_log_stays(
    make_hub: Callable[..., Hub],
) -> None:
    from sqlalchemy import text

    from cimhub.bus.pipeline import Inbound

    hub = make_hub(raw_retention_days=30)
    hub.pipeline.process(Inbound(created_meter_readings([1], DAY, 4), "t1", "test"))
    hub.pipeline.process(Inbound(created_meter_readings([2], DAY, 4), "t1", "test"))
    with hub.database.unit_of_work(hub=True) as uow:  # age the first message past the retention
        uow.session.execute(
            text(
                "UPDATE message_log SET received_at = received_at - 31 * 86400 WHERE id = "
                "(SELECT MIN(id) FROM message_log)"
            )
        )
    assert hub.prune_raw_messages() == 1
    with hub.database.unit_of_work(hub=True) as uow:
        rows = uow.session.execute(
            text("SELECT raw IS NULL, result FROM message_log ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [(True, "OK"), (False, "OK")]


def test_queries_are_logged_without_their_reply_bytes(hub: Hub, send: Send) -> None:
    from sqlalchemy import select

    from cimhub.store.models import MessageLog

    send(created_meter_readings([1], DAY, 96))
    answer = send(get_meter_readings([meter_mrid(1)], DAY, DAY + timedelta(days=1)))
    assert len(ParsedReply.of(answer.body).readings()) == 96
    with hub.database.unit_of_work(hub=True) as uow:
        logged = uow.session.execute(
            select(
                MessageLog.verb, MessageLog.result, MessageLog.reply_code, MessageLog.reply
            ).order_by(MessageLog.id)
        ).all()
    (created, get) = [(v, r, c, reply is not None) for v, r, c, reply in logged]
    assert created == ("created", "OK", "0.0", True)  # kept: a repeat is answered with it
    assert get == ("get", "OK", "0.0", False)  # a page of readings is not kept


def test_pages_run_from_interval_into_register_readings_without_losing_any(
    make_hub: Callable[..., Hub],
) -> None:
    """Interval readings page first, then register reads: a page may end inside either
    kind or exactly between them, on the raw and on the validated layer."""
    from cimhub.bus.pipeline import Inbound

    first = int(DAY.timestamp())
    intervals = {KWH_15MIN: {first + 900 * (i + 1): float(i + 1) for i in range(7)}}
    registers = {KWH_REGISTER: {first + 3600 * (i + 1): 100.0 + i for i in range(4)}}
    whole = make_hub()
    whole.pipeline.process(Inbound(readings_message("m-1", intervals, registers), "t1", "test"))

    def pages(hub: Hub, options: dict[str, str]) -> tuple[dict, int]:
        seen: dict = {}
        token, count = None, 0
        while count < 20:
            count += 1
            raw = get_meter_readings(
                ["m-1"], DAY, DAY + timedelta(days=1), continuation=token, options=options
            )
            page = ParsedReply.of(hub.pipeline.process(Inbound(raw, "t1", "test")).body)
            assert len(page.readings()) <= hub.settings.page_size
            assert not set(page.readings()) & set(seen), "a reading came twice"
            seen.update(page.readings())
            token = page.continuation
            if token is None:
                break
        return seen, count

    sent = {
        ("m-1", code, ts): v
        for code, values in (intervals | registers).items()
        for ts, v in values.items()
    }
    assert pages(whole, {"raw": "true"}) == (sent, 1)
    validated, _ = pages(whole, {})
    assert {k for k in validated if k[1] == KWH_REGISTER} == {
        k for k in sent if k[1] == KWH_REGISTER
    }
    for page_size in (3, 7, 10):
        hub = make_hub(page_size=page_size)
        for options, expected in (({"raw": "true"}, sent), ({}, validated)):
            assert pages(hub, options)[0] == expected, (page_size, options)
