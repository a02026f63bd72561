"""The in-process bus (the embedded default): async replies, subscriptions, dead letters."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import responses
from lxml import etree

from cimhub.app import Hub
from cimhub.bus.dead_letter import list_letters, replay
from cimhub.bus.pipeline import Inbound
from cimhub.cli import main
from cimhub.domain.event import POWER_OFF, POWER_ON
from cimhub.message import schema
from cimhub.store.outbox import OutboxRepository
from cimhub.store.subscriptions import Subscription
from cimhub.testing.bus import qualified_in, readings_in, with_async_reply
from cimhub.testing.events import Ev, created_end_device_events
from cimhub.testing.messages import (
    KWH_15MIN,
    KWH_REGISTER,
    created_meter_readings,
    get_meter_readings,
    meter_mrid,
)
from cimhub.testing.receiver import Receiver
from cimhub.testing.replies import ParsedReply
from cimhub.testing.waiting import wait_until

DAY = datetime(2026, 3, 1, tzinfo=UTC)
MSG = "http://iec.ch/TC57/2011/schema/message"
EDE = "http://iec.ch/TC57/2011/EndDeviceEvents#"


def outbox_empty(hub: Hub) -> bool:
    with hub.database.unit_of_work(hub=True) as uow:
        return OutboxRepository(uow).count() == 0


def billing(address: str, **extra: object) -> Subscription:
    return Subscription(
        name="billing",
        noun="MeterReadings",
        verbs=("created", "changed"),
        address=address,
        **extra,  # type: ignore[arg-type]
    )


def test_async_reply_to_an_http_address(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub()
    raw = with_async_reply(created_meter_readings([1], DAY, 4), "https://cis.test/replies")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://cis.test/replies", status=202)
        answer = hub.pipeline.process(Inbound(raw, "t1", "http"))
        assert (answer.result.value, answer.code) == ("OK", "0.3")
        wait_until(lambda: mock.calls)
        reply = ParsedReply.of(mock.calls[0].request.body)
    request_id = etree.fromstring(raw).findtext(f".//{{{MSG}}}MessageID")
    assert reply.result == "OK" and reply.codes == ["0.0"]
    assert reply.correlation_id == request_id


def test_async_reply_to_a_soap_endpoint_through_zeep(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub()
    raw = with_async_reply(created_meter_readings([1], DAY, 4), "soap+http://cis.test/soap/Reply")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "http://cis.test/soap/Reply", status=200)
        hub.pipeline.process(Inbound(raw, "t1", "soap"))
        wait_until(lambda: mock.calls)
        envelope = etree.fromstring(mock.calls[0].request.body)
    body = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    assert etree.QName(body[0]).localname == "MeterReadingsResponseMessage"


def test_async_reply_to_an_in_process_queue(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub()
    raw = with_async_reply(created_meter_readings([1], DAY, 4), "amqp:cis.replies")
    assert hub.pipeline.process(Inbound(raw, "t1", "http")).code == "0.3"
    broker = hub.bus.broker  # type: ignore[union-attr]
    message = wait_until(lambda: broker.get("cis.replies", 0.1))  # type: ignore[attr-defined]
    assert ParsedReply.of(message.body).result == "OK"


def test_billing_subscriber_gets_every_stored_reading_exactly_once(
    make_hub: Callable[..., Hub], receiver: Receiver
) -> None:
    hub = make_hub()
    hub.bus.put_subscription(billing(receiver.url))  # type: ignore[union-attr]
    send = lambda raw: hub.pipeline.process(Inbound(raw, "t1", "http"))  # noqa: E731
    send(created_meter_readings([1, 2], DAY, 96))
    send(created_meter_readings([3], DAY, 96))
    send(created_meter_readings([1, 2], DAY, 96))  # a re-send under a new MessageID: unchanged
    first = receiver.wait_for(2)
    schema.validate(etree.fromstring(first[0]))  # the event is a valid CreatedMeterReadings
    got = readings_in(first)
    described = [sorted(ParsedReply.of(b).meter_names().values()) for b in first]
    assert len(got) == len(set(got)) == 3 * 96, described
    wait_until(lambda: outbox_empty(hub), timeout=10)
    assert len(receiver.bodies) == 2  # the unchanged re-send announced nothing


def test_subscribers_get_the_validated_values_with_their_quality_codes(
    make_hub: Callable[..., Hub], receiver: Receiver
) -> None:
    hub = make_hub()
    hub.bus.put_subscription(billing(receiver.url))  # type: ignore[union-attr]
    parts = created_meter_readings([1], DAY, 96).split(b"<IntervalReadings>")
    del parts[10:14]  # an hour the head-end missed: VEE estimates it
    hub.pipeline.process(Inbound(b"<IntervalReadings>".join(parts), "t1", "http"))
    got = qualified_in(receiver.wait_for(1))
    query = get_meter_readings([meter_mrid(1)], DAY, DAY + timedelta(days=1))
    validated = qualified_in([hub.pipeline.process(Inbound(query, "t1", "http")).body])
    assert got == validated and len(got) == 96  # what GetMeterReadings answers after VEE
    estimated = [key for key, (_, quality) in got.items() if "3.8.0" in quality.split()]
    assert len(estimated) == 4
    wait_until(lambda: outbox_empty(hub), timeout=10)
    assert len(receiver.bodies) == 1


def test_a_vee_rerun_publishes_the_values_it_changed(
    make_hub: Callable[..., Hub],
    receiver: Receiver,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """VEE was off when the readings came (raw went out as `created`); a rerun validates
    them and publishes the validated values as `changed`, once."""
    hub = make_hub(vee_enabled=False)
    hub.bus.put_subscription(billing(receiver.url))  # type: ignore[union-attr]
    hub.pipeline.process(Inbound(created_meter_readings([1], DAY, 96), "t1", "http"))
    receiver.wait_for(1)
    monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
    period = ["--start", "2026-03-01T00:00:00Z", "--end", "2026-03-02T00:00:00Z"]
    for _ in range(2):  # the second rerun changes nothing, so announces nothing
        assert main(["vee", "rerun", "--tenant", "t1", *period]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["inserted"], first["announced"], second["announced"]) == (96, 1, 0)
    hub.bus.relay.wake()  # type: ignore[union-attr]
    bodies = receiver.wait_for(2)
    wait_until(lambda: outbox_empty(hub), timeout=10)
    assert len(receiver.bodies) == 2
    changed = etree.fromstring(bodies[1])
    assert etree.QName(changed).localname == "ChangedMeterReadings"
    assert len(qualified_in([bodies[1]])) == 96
    assert all(quality for _, quality in qualified_in([bodies[1]]).values())


def test_end_device_events_go_out_once_filtered_by_event_type(
    make_hub: Callable[..., Hub], receiver: Receiver
) -> None:
    hub = make_hub()
    hub.bus.put_subscription(  # type: ignore[union-attr]
        Subscription(
            name="oms",
            noun="EndDeviceEvents",
            verbs=("created",),
            address=receiver.url,
            event_types=(POWER_OFF, POWER_ON),
        )
    )
    tamper = "3.12.0.257"  # a cover-open event: not the OMS's business
    first = [Ev("M1", "2026-03-01T10:00:00Z", POWER_OFF), Ev("M1", "2026-03-01T10:01:00Z", tamper)]
    again = [first[0], Ev("M1", "2026-03-01T10:30:00Z", POWER_ON)]  # a repeat, and a new one
    for events in (first, again, [Ev("M2", "2026-03-01T11:00:00Z", tamper)]):
        answer = hub.pipeline.process(Inbound(created_end_device_events(events), "t1", "http"))
        assert answer.result.value == "OK"
    bodies = receiver.wait_for(2)
    wait_until(lambda: outbox_empty(hub), timeout=10)
    assert len(receiver.bodies) == 2  # the tamper-only message announced nothing
    for body in bodies:
        schema.validate(etree.fromstring(body))
    sent = [
        (e.findtext(f"{{{EDE}}}createdDateTime"), e.find(f"{{{EDE}}}EndDeviceEventType").get("ref"))
        for body in bodies
        for e in etree.fromstring(body).iter(f"{{{EDE}}}EndDeviceEvent")
    ]
    assert sent == [("2026-03-01T10:00:00Z", POWER_OFF), ("2026-03-01T10:30:00Z", POWER_ON)]


def test_subscription_filters_by_reading_type_and_tenant(
    make_hub: Callable[..., Hub], receiver: Receiver
) -> None:
    hub = make_hub()
    hub.bus.put_subscription(  # type: ignore[union-attr]
        billing(receiver.url, reading_types=(KWH_REGISTER,), tenant="t1")
    )
    hub.pipeline.process(Inbound(created_meter_readings([1], DAY, 4), "t2", "http"))
    hub.pipeline.process(
        Inbound(created_meter_readings([1], DAY, 4, reading_type=KWH_15MIN), "t1", "http")
    )
    hub.pipeline.process(
        Inbound(created_meter_readings([2], DAY, 4, reading_type=KWH_REGISTER), "t1", "http")
    )
    bodies = receiver.wait_for(1)
    assert [code for _, code, _ in readings_in(bodies)] == [KWH_REGISTER] * 4


def test_failing_subscriber_is_retried_then_dead_lettered_and_replayed_once(
    make_hub: Callable[..., Hub], receiver: Receiver
) -> None:
    hub = make_hub()
    hub.bus.put_subscription(billing(receiver.url, max_attempts=3, backoff_seconds=0.05))  # type: ignore[union-attr]
    receiver.fail_with = 503
    hub.pipeline.process(Inbound(created_meter_readings([1], DAY, 4), "t1", "http"))
    letters = wait_until(lambda: list_letters(hub.database))
    assert receiver.failures == 3
    [letter] = letters
    assert letter.queue == "cimhub.sub.billing" and letter.attempts == 3
    assert "HTTP 503" in letter.reason
    receiver.fail_with = None
    assert replay(hub.database, letter.id) is True
    assert replay(hub.database, letter.id) is False  # idempotent: already replayed
    hub.bus.relay.wake()  # type: ignore[union-attr]
    assert len(readings_in(receiver.wait_for(1))) == 4
    wait_until(lambda: outbox_empty(hub), timeout=10)
    assert len(receiver.bodies) == 1 and list_letters(hub.database) == []


def test_a_slow_handler_is_answered_0_3_in_time_and_its_reply_kept(
    make_hub: Callable[..., Hub],
) -> None:
    """Without a broker, `serve` still bounds the wait (reply_wait_seconds): the caller
    gets 0.3, the handler finishes, and the same message again gets the real reply."""
    import threading

    from cimhub.handlers import meter_readings
    from cimhub.message.verb import Verb

    hub = make_hub(reply_wait_seconds=0.2)
    release = threading.Event()

    def held_ingest(ctx, envelope):  # type: ignore[no-untyped-def]
        assert release.wait(30), "the test never released the handler"
        return meter_readings.ingest(ctx, envelope)

    hub.registry.register("MeterReadings", (Verb.CREATED,), held_ingest)
    raw = created_meter_readings([1], DAY, 96, message_id="slow-1")

    first = ParsedReply.of(hub.pipeline.process(Inbound(raw, "t1", "http")).body)
    assert (first.result, first.codes) == ("OK", ["0.3"])
    release.set()
    wait_until(lambda: stored_count(hub) == 96, 30)
    again = ParsedReply.of(hub.pipeline.process(Inbound(raw, "t1", "http")).body)
    assert (again.result, again.codes) == ("OK", ["0.0"])
    assert "96 readings: 96 new" in again.reasons[0]


def stored_count(hub: Hub) -> int:
    from cimhub.domain.reading import ReadingKind

    with hub.database.unit_of_work(hub=True) as uow:
        return uow.readings.count(uow.tenants.ensure("t1"), ReadingKind.INTERVAL)
