"""Outbound pieces without servers: reply addresses, event messages, the in-process broker."""

from __future__ import annotations

import pytest
from lxml import etree

from cimhub.bus import topology
from cimhub.bus.broker import BusMessage, MemoryBroker, is_embedded
from cimhub.bus.delivery import Target
from cimhub.bus.events import event_verb, wrap
from cimhub.bus.metrics import Metrics
from cimhub.errors import TechnicalError
from cimhub.message import schema
from cimhub.message.verb import Verb

MR = "http://iec.ch/TC57/2011/MeterReadings#"


@pytest.mark.parametrize(
    ("address", "target"),
    [
        ("https://cis.example/replies", Target("https://cis.example/replies", "http")),
        ("soap+https://cis.example/soap/Reply", Target("https://cis.example/soap/Reply", "soap")),
        ("amqp:cis.replies", Target("cis.replies", "amqp")),
        ("amqp:///cis.replies", Target("cis.replies", "amqp")),
    ],
)
def test_reply_addresses(address: str, target: Target) -> None:
    assert Target.of_address(address) == target


def test_events_tell_what_happened() -> None:
    assert event_verb("create") is Verb.CREATED
    assert event_verb("cancel") is Verb.CANCELED
    assert event_verb("created") is Verb.CREATED


def test_an_event_message_is_a_valid_strongly_typed_message() -> None:
    payload = etree.fromstring(
        f'<MeterReadings xmlns="{MR}"><MeterReading><Meter><mRID>m1</mRID></Meter>'
        f"</MeterReading></MeterReadings>"
    )
    body = wrap("MeterReadings", Verb.CREATED, payload, "id-1", "corr-1")
    root = etree.fromstring(body)
    schema.validate(root)
    assert etree.QName(root).localname == "CreatedMeterReadings"
    assert root.findtext(".//{*}CorrelationID") == "corr-1"


def test_memory_broker_queues_and_dead_letters() -> None:
    broker = MemoryBroker()
    assert is_embedded(broker.url) and not broker.durable
    broker.publish(b"<a/>", routing_key="q", headers={"h": 1}, correlation_id="c")
    message = broker.get("q")
    assert message is not None and (message.body, message.headers, message.correlation_id) == (
        b"<a/>",
        {"h": 1},
        "c",
    )
    assert broker.get("q", 0.01) is None
    with pytest.raises(TechnicalError):
        broker.publish(b"x", exchange=topology.DLX.name, routing_key="q")
    dead: list[BusMessage] = []
    broker.on_dead = dead.append
    broker.publish(b"x", exchange=topology.DLX.name, routing_key="q", headers={"r": 1})
    assert [m.body for m in dead] == [b"x"]


def test_metrics_survive_an_unreachable_broker() -> None:
    from prometheus_client import generate_latest

    metrics = Metrics()

    def probe() -> dict[str, tuple[int, int]]:
        raise TechnicalError("down")

    metrics.watch(probe, lambda: {"cimhub_outbox_pending": 3})
    text = generate_latest(metrics.registry).decode()
    assert "cimhub_broker_up 0.0" in text and "cimhub_outbox_pending 3.0" in text
