"""A READ as the GetMeterReadings a CIM head-end receives, and the head-end's answers."""

from __future__ import annotations

from lxml import etree

from cimhub.adapters import hes_read
from cimhub.adapters.hes_client import HesAnswer, read_answer
from cimhub.domain.command import Command, CommandKind, State, Transition
from cimhub.domain.meter_read import Period
from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.mappings.meter_readings import SeriesOut, write_meter_readings
from cimhub.mappings.reading_query import read_reading_query
from cimhub.message import schema
from cimhub.message.envelope import read_envelope
from cimhub.message.reply import Outcome, render_reply
from cimhub.simulator.hub_client import soap_wrap
from cimhub.store.commands import HesEndpoint

KWH, KVAH = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0", "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.71.0"
PERIOD = Period(1_718_389_800, 1_718_397_000)


def read(**fields: object) -> Command:
    command = Command("R-1", CommandKind.READ, MeterRef("M-1", ("SN-1",)), "cimhub", "sweep",
                      **fields)  # type: ignore[arg-type]  # fmt: skip
    command.history.append(Transition(State.SENT, 1_718_400_000, "cimhub"))
    return command


def test_the_request_names_the_meter_its_reading_types_and_the_period() -> None:
    body = hes_read.request(read(period=PERIOD, reading_types=(KWH, KVAH)), dispatch_id=7)
    root = etree.fromstring(body)
    schema.validate(root)  # our GetMeterReadings profile
    envelope = read_envelope(root)
    query = read_reading_query(envelope)

    assert (envelope.noun, envelope.verb.value) == ("MeterReadings", "get")
    assert envelope.header.correlation_id == "R-1"  # an asynchronous answer may echo it
    assert query.meters == [MeterRef("M-1", ("SN-1",))] and query.reading_types == [KWH, KVAH]
    assert (query.start, query.end) == (PERIOD.start, PERIOD.end)
    assert root.find(".//{*}TimeSchedule/{*}scheduleInterval") is not None
    again = read_envelope(etree.fromstring(hes_read.request(read(period=PERIOD), 7)))
    assert again.header.message_id == envelope.header.message_id  # fixed per dispatch
    assert read_envelope(etree.fromstring(hes_read.request(read(), 8))).header.message_id != (
        envelope.header.message_id
    )


def test_a_read_without_a_period_asks_for_the_last_block_before_it_was_made() -> None:
    query = read_reading_query(read_envelope(etree.fromstring(hes_read.request(read(), 1))))
    assert (query.start, query.end, query.reading_types) == (1_718_399_100, 1_718_400_000, [])


def test_only_reads_to_cim_head_ends_not_asked_as_controls_go_as_get() -> None:
    get, control = HesEndpoint("H", "soap", "u"), HesEndpoint("H", "http", "u", read_as="control")
    assert hes_read.asks_get(get, read())
    assert not hes_read.asks_get(control, read())
    assert not hes_read.asks_get(HesEndpoint("H", "mqtt", vendor="vendor-a"), read())
    connect = Command("C-1", CommandKind.CONNECT, MeterRef("M-1"), "a", "b")
    assert not hes_read.asks_get(get, connect)


def test_a_synchronous_answer_carries_its_readings_an_asynchronous_one_acknowledges() -> None:
    series = SeriesOut(KWH, ReadingKind.INTERVAL, [PERIOD.end], [0.25], [""])
    payload = write_meter_readings([(MeterRef("M-1"), [series])])
    now = read_answer(render_reply(None, Outcome(payload=payload), noun="MeterReadings"))
    assert (now.result, now.code) == ("OK", "0.0")
    readings = hes_read.readings_of(now)
    assert readings is not None and readings.find("{*}MeterReading") is not None
    created = read_envelope(etree.fromstring(hes_read.created(readings, read(), 7, "HES-A")))
    assert (created.verb.value, created.header.source) == ("created", "HES-A")
    assert created.header.correlation_id == "R-1"

    accepted = Outcome(code="0.3", summary="the readings follow")
    later = read_answer(soap_wrap(render_reply(None, accepted, noun="MeterReadings")))
    assert hes_read.readings_of(later) is None
    assert hes_read.as_received(later) == HesAnswer("OK", "0.0", "the readings follow")
    failed = HesAnswer("FAILED", "5.2", "meter did not respond")
    assert hes_read.as_received(failed) == failed


def test_a_soap_fault_is_a_failed_answer_with_its_fault_string() -> None:
    fault = (
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soapenv:Body><soapenv:Fault><faultcode>soapenv:Server</faultcode>"
        b"<faultstring>meter unreachable</faultstring></soapenv:Fault></soapenv:Body>"
        b"</soapenv:Envelope>"
    )
    assert read_answer(fault) == HesAnswer(
        "FAILED", "", "SOAP Fault: soapenv:Server meter unreachable"
    )
