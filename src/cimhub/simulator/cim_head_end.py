"""A simulated CIM head-end: takes CreateEndDeviceControls and GetMeterReadings at its own
loopback endpoint (HTTP POST, or SOAP 1.1; it publishes its services' WSDLs too), and
publishes its meters' profiles and events to the hub over HTTP or SOAP. ``down()`` stops
answering (connections refused) until ``up()``.

* A control is answered OK (queued) and, after the meter's delay, its outcome goes to the
  hub as ExecutedEndDeviceControls (executed, failed or never, as its behaviour says); a
  read control (3.21.0.8) first sends the meter's blocks of the period it names.
* A GetMeterReadings (the IEC 61968-9 way to ask a head-end for readings) is answered
  with the meters' blocks of its period and reading types in the reply's payload
  (``read_reply="sync"``), or with 0.3 and, after the meter's delay, a
  CreatedMeterReadings to the hub echoing the request's CorrelationID (``"async"``). A
  meter that fails answers 5.2 "meter did not respond"; a silent one is accepted (0.3)
  and never read.

With ``fleet_only`` it knows only its generator's meters (others: 2.15), as the
conformance suite's ``hes`` role expects; otherwise a meter it has not met joins its fleet.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lxml import etree

from cimhub.bus.events import wrap
from cimhub.domain.command import Command, CommandKind, State, Transition, parse_kind
from cimhub.domain.meter_read import Period
from cimhub.domain.reading import MeterRef
from cimhub.errors import PayloadError
from cimhub.mappings.end_device_controls import (
    ControlItem,
    read_end_device_controls,
    write_end_device_controls,
)
from cimhub.mappings.reading_query import ReadingQuery, read_reading_query
from cimhub.message.envelope import Envelope
from cimhub.message.reply import Outcome, ReplyError, Result
from cimhub.message.verb import Noun, Verb
from cimhub.simulator import cim_endpoint, cim_writer
from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.fleet import SimMeter
from cimhub.simulator.hub_client import HubClient
from cimhub.simulator.profiles import Batch, Block, ProfileGenerator

#: What the simulated meter reports having done, per kind (connect/disconnect: the relay).
DONE = {
    CommandKind.TIME_SYNC: "clock set",
    CommandKind.MD_RESET: "MD reset",
    CommandKind.PREPAID_MODE: "switched to prepaid",
    CommandKind.POSTPAID_MODE: "switched to postpaid",
    CommandKind.LOAD_LIMIT: "load limit set",
}
NOT_RESPONDING = "meter did not respond"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpHes:
    """A CIM head-end on 127.0.0.1: commands and reads in at ``url``, data out to the hub."""

    def __init__(
        self, hub_url: str, *, name: str = "HES-SIM", tenant: str | None = "default",
        behaviour: Behaviour | None = None, port: int | None = None, transport: str = "http",
        api_key: str | None = None, generator: ProfileGenerator | None = None,
        read_reply: str = "sync", fleet_only: bool = False,
    ) -> None:  # fmt: skip
        self.hub = HubClient(hub_url, tenant, transport, api_key)
        self.name = name
        self.behaviour = behaviour or Behaviour()
        self.port = port or free_port()
        # the meters' memory: what a read sends
        self.generator = generator or ProfileGenerator([], int(time.time()))
        self.read_reply = read_reply  # sync | async: how a GetMeterReadings is answered
        self.fleet_only = fleet_only
        self.received: list[tuple[str, str, str]] = []  # (command mRID, kind, meter)
        self.reported: list[tuple[str, str, int]] = []  # (mRID, status, hub's HTTP status)
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cim"

    @property
    def wsdl_urls(self) -> str:
        """Its services' WSDLs, as a head-end endpoint's URL (space-separated)."""
        base = f"http://127.0.0.1:{self.port}/soap"
        return " ".join(f"{base}/{service}?wsdl" for service in cim_endpoint.SERVICES)

    def up(self) -> HttpHes:
        self.behaviour.open()
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(*cim_endpoint.answer(body, sim.routes()))

            def do_GET(self) -> None:
                self._answer(*cim_endpoint.published(self.path, f"http://127.0.0.1:{sim.port}"))

            def _answer(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        self.behaviour.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- data out ----------------------------------------------------------------------

    def send(self, batch: Batch) -> list[int]:
        """Send a batch to the hub: readings, then events; the hub's HTTP statuses."""
        statuses = [
            self.hub.send(Noun.METER_READINGS.value, body)
            for body in cim_writer.meter_readings(batch, self.name)
        ]
        events = cim_writer.end_device_events(batch, self.name)
        if events is not None:
            statuses.append(self.hub.send(Noun.END_DEVICE_EVENTS.value, events))
        return statuses

    def read(self, meter: str, start: int, end: int) -> list[int]:
        """Send the blocks the meter's memory holds for (start, end]."""
        found = self.generator.meter(meter)
        return self.send(Batch(blocks=self.generator.blocks(found, start, end)))

    # ---- messages in -------------------------------------------------------------------

    def routes(self) -> dict[tuple[str, str], cim_endpoint.Route]:
        return {
            (Noun.END_DEVICE_CONTROLS.value, Verb.CREATE.value): self.controls,
            (Noun.METER_READINGS.value, Verb.GET.value): self.readings,
        }

    def controls(self, envelope: Envelope) -> Outcome:
        """Queue the commands of a CreateEndDeviceControls; the outcome follows."""
        if envelope.payload is None:
            raise PayloadError("EndDeviceControls message without a payload")
        items, errors = read_end_device_controls(envelope.payload, envelope.header.message_id)
        queued = [i for i in items if self._meter(i.meter) is not None]
        errors += [self._unknown(i.meter) for i in items if i not in queued]
        for item in queued:
            self._queue(item, envelope.header.message_id)
        if errors:
            return Outcome(Result.PARTIAL if queued else Result.FAILED, errors)
        return Outcome(summary=f"{len(queued)} command(s) queued")

    def readings(self, envelope: Envelope) -> Outcome:
        """A GetMeterReadings: see the module docstring."""
        query = read_reading_query(envelope)
        asked = envelope.header.correlation_id or envelope.header.message_id or ""
        errors: list[ReplyError] = []
        read: list[Block] | None = None  # None: no meter was read
        accepted = False
        for ref in query.meters:
            meter = self._meter(ref)
            if meter is None:
                errors.append(self._unknown(ref))
                continue
            with self._lock:
                self.received.append((asked, CommandKind.READ.value, ref.key))
            accepted, outcome = True, self.behaviour.outcome(asked, ref.key)
            if outcome == "failed":
                errors.append(ReplyError("5.2", NOT_RESPONDING, object_id=ref.key))
            elif outcome == "executed":
                read = (read or []) + self.generator.blocks(meter, *_span(query, meter))
        if not accepted or (read is None and errors):
            return Outcome(Result.FAILED, errors)
        result = Result.PARTIAL if errors else Result.OK
        payload = cim_writer.readings_payload(Batch(blocks=read or []), query.reading_types)
        if self.read_reply == "sync" and read is not None:
            return Outcome(result, errors, payload=payload)
        if read:  # the readings follow; a silent meter's never come
            later = partial(self._readings_later, payload, asked)
            self.behaviour.later(self.behaviour.outcome_delay, later)
        return Outcome(result, errors, code="0.3", summary="accepted; the readings follow")

    def _meter(self, ref: MeterRef) -> SimMeter | None:
        """The meter a message names; None when the head-end does not know it."""
        keys = [k for k in (ref.mrid, *ref.names) if k]
        if not keys or any(k in self.behaviour.refused_meters for k in keys):
            return None
        known = next((m for k in keys if (m := self.generator.known(k)) is not None), None)
        if known is not None or self.fleet_only:
            return known
        return self.generator.meter(ref.key)

    def _unknown(self, ref: MeterRef) -> ReplyError:
        return ReplyError("2.15", f"unknown meter {ref.key} at {self.name}", object_id=ref.key)

    def _queue(self, item: ControlItem, correlation: str | None) -> None:
        kind = parse_kind(item.control_type, item.action)
        with self._lock:
            self.received.append((item.mrid, kind.value, item.meter.key))
        outcome = self.behaviour.outcome(item.mrid, item.meter.key)
        if outcome is not None:
            command = Command(item.mrid, kind, item.meter, self.name, self.name,
                              period=item.period)  # fmt: skip
            self.behaviour.later(
                self.behaviour.outcome_delay, partial(self._report, command, outcome, correlation)
            )

    def _readings_later(self, payload: etree._Element, correlation: str) -> None:
        """An asynchronous read's answer: CreatedMeterReadings echoing the request."""
        body = wrap(Noun.METER_READINGS.value, Verb.CREATED, payload, str(uuid.uuid4()),
                    correlation or None, source=self.name)  # fmt: skip
        status = self.hub.send(Noun.METER_READINGS.value, body)
        with self._lock:
            self.reported.append((correlation, "executed", status))

    def _report(self, command: Command, outcome: str, correlation: str | None) -> None:
        state = State.EXECUTED if outcome == "executed" else State.FAILED
        reason = DONE.get(command.kind, "relay operated")
        reason = reason if state is State.EXECUTED else NOT_RESPONDING
        if command.kind is CommandKind.READ and state is State.EXECUTED:  # the read itself
            now = int(time.time()) // 900 * 900  # the period asked, else the last block
            span = command.period or Period(now - 900, now)
            self.read(command.meter.key, span.start, span.end)
            reason = "meter read"
        command.history.append(Transition(state, int(time.time()), self.name, reason))
        payload = write_end_device_controls([command])
        body = wrap(Noun.END_DEVICE_CONTROLS.value, Verb.EXECUTED, payload,
                    str(uuid.uuid4()), correlation, source=self.name)  # fmt: skip
        status = self.hub.send(Noun.END_DEVICE_CONTROLS.value, body)
        with self._lock:
            self.reported.append((command.mrid, outcome, status))


def _span(query: ReadingQuery, meter: SimMeter) -> tuple[int, int]:
    """(start, end] a read asks of a meter: its period, never ahead of the clock; without
    one, the meter's last block."""
    now = int(time.time())
    end = min(query.end if query.end is not None else now, now)
    if query.start is not None:
        return query.start, end
    last = end // meter.interval * meter.interval
    return last - meter.interval, last
