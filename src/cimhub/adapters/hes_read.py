"""Reads from CIM head-ends as IEC 61968-9 GetMeterReadings: the request the hub sends for
a READ command, and what the head-end's answer does to it.

A READ goes to a CIM head-end (``http`` or ``soap``) as a GetMeterReadings naming the
meter, the reading types when known and the period (TimeSchedule/scheduleInterval) — or,
when the endpoint says ``read_as = control``, as the EndDeviceControl 3.21.0.8 other
commands travel as. The head-end answers:

* at once, with its MeterReadings in the reply's Payload: they go through the one pipeline
  like any head-end's push (raw + VEE, Source the head-end), as a CreatedMeterReadings
  whose MessageID is fixed per dispatch (one answer is never ingested twice). Readings
  that reach the period's end execute the READ (``close_reads``); an answer that does not
  fails it, saying so;
* later: 0.3, or OK without a Payload, acknowledges the READ; the head-end then sends
  ``created MeterReadings`` to the hub, which execute it as any readings do.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from lxml import etree

from cimhub.adapters.hes_client import HesAnswer
from cimhub.bus.events import wrap
from cimhub.domain.command import Command, CommandKind
from cimhub.domain.meter_read import MIN_SLACK, Period
from cimhub.mappings.reading_query import write_reading_query
from cimhub.mappings.timestamp import to_text
from cimhub.message import ns
from cimhub.message.verb import Noun, Verb
from cimhub.store.commands import HesEndpoint

_M = ns.MESSAGE
#: How a CIM head-end may be asked for a read (``cimhub hes endpoint set --read-as``).
READ_AS = ("get", "control")


def asks_get(endpoint: HesEndpoint, command: Command) -> bool:
    """Whether this command goes to this head-end as a GetMeterReadings."""
    return (
        command.kind is CommandKind.READ
        and endpoint.kind in ("http", "soap")
        and endpoint.read_as != "control"
    )


def period_of(command: Command) -> Period:
    """The period a read asks for: its own, else the last block before it was made."""
    if command.period is not None:
        return command.period
    made = command.history[0].at if command.history else 0
    return Period(made - MIN_SLACK, made)


def request(command: Command, dispatch_id: int, source: str = "cimhub") -> bytes:
    """The GetMeterReadings the head-end receives: MessageID fixed per dispatch, the
    command's mRID as CorrelationID (an asynchronous answer may echo it)."""
    outer = ns.message_ns("GetMeterReadings")
    root = etree.Element(ns.qname(outer, "GetMeterReadings"), nsmap={None: outer, "msg": _M})
    header = etree.SubElement(root, ns.qname(outer, "Header"))
    message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cimhub-read-{dispatch_id}"))
    for local, text in (
        ("Verb", Verb.GET.value),
        ("Noun", Noun.METER_READINGS.value),
        ("Timestamp", datetime.now(UTC).isoformat(timespec="seconds")),
        ("Source", source),
        ("MessageID", message_id),
        ("CorrelationID", command.mrid),
    ):
        etree.SubElement(header, ns.qname(_M, local)).text = text
    query = write_reading_query(command.meter, period_of(command), command.reading_types)
    etree.SubElement(root, ns.qname(outer, "Request")).append(query)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def as_received(answer: HesAnswer) -> HesAnswer:
    """The head-end's answer as the dispatcher records it: an asynchronous one (0.3, or
    OK without readings) acknowledges the read."""
    if answer.result in ("OK", "PARTIAL") and readings_of(answer) is None:
        return HesAnswer("OK", "0.0", answer.reason or "accepted; the readings follow")
    return answer


def readings_of(answer: HesAnswer) -> etree._Element | None:
    """The MeterReadings an answer carries, if any."""
    payload = answer.payload
    if payload is None or ns.split(payload.tag) != (
        ns.payload_ns("MeterReadings"),
        "MeterReadings",
    ):
        return None
    return payload


def created(readings: etree._Element, command: Command, dispatch_id: int, hes: str) -> bytes:
    """The answer's readings as the CreatedMeterReadings the pipeline ingests."""
    message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cimhub-read-answer-{dispatch_id}"))
    return wrap(Noun.METER_READINGS.value, Verb.CREATED, readings, message_id, command.mrid,
                source=hes)  # fmt: skip


def short_of(command: Command) -> str:
    """Why a read whose answer was ingested is still open: nothing reached its end."""
    end = to_text(period_of(command).end)
    return f"the head-end's answer holds no readings reaching the period's end {end}"
