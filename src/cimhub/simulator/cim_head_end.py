"""A simulated CIM head-end: takes CreateEndDeviceControls at its own loopback endpoint
(HTTP POST, or SOAP 1.1), answers OK (the command is queued) and, after the meter's delay,
reports the outcome to the hub as ExecutedEndDeviceControls (executed, failed or never, as
its behaviour says); publishes its meters' profiles and events to the hub over HTTP or
SOAP. ``down()`` stops answering (connections refused) until ``up()``.
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
from cimhub.mappings.end_device_controls import read_end_device_controls, write_end_device_controls
from cimhub.message.envelope import read_envelope
from cimhub.message.reply import Outcome, ReplyError, Result, render_reply
from cimhub.message.verb import Noun, Verb
from cimhub.simulator import cim_writer
from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.hub_client import SOAP11, HubClient, soap_wrap
from cimhub.simulator.profiles import Batch, ProfileGenerator

#: What the simulated meter reports having done, per kind (connect/disconnect: the relay).
DONE = {
    CommandKind.TIME_SYNC: "clock set",
    CommandKind.MD_RESET: "MD reset",
    CommandKind.PREPAID_MODE: "switched to prepaid",
    CommandKind.POSTPAID_MODE: "switched to postpaid",
    CommandKind.LOAD_LIMIT: "load limit set",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpHes:
    """A CIM head-end on 127.0.0.1: commands in at ``url``, data out to the hub."""

    def __init__(
        self, hub_url: str, *, name: str = "HES-SIM", tenant: str | None = "default",
        behaviour: Behaviour | None = None, port: int | None = None, transport: str = "http",
        api_key: str | None = None, generator: ProfileGenerator | None = None,
    ) -> None:  # fmt: skip
        self.hub = HubClient(hub_url, tenant, transport, api_key)
        self.name = name
        self.behaviour = behaviour or Behaviour()
        self.port = port or free_port()
        # the meters' memory: what a read sends
        self.generator = generator or ProfileGenerator([], int(time.time()))
        self.received: list[tuple[str, str, str]] = []  # (command mRID, kind, meter)
        self.reported: list[tuple[str, str, int]] = []  # (mRID, status, hub's HTTP status)
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cim"

    def up(self) -> HttpHes:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reply = sim.take(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
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

    # ---- commands in -------------------------------------------------------------------

    def take(self, body: bytes) -> bytes:
        """Queue the commands of a CreateEndDeviceControls; the outcome follows."""
        root = etree.fromstring(body, _PARSER)
        if root.tag == f"{{{SOAP11}}}Envelope":  # SOAP 1.1: the message is the Body's child
            return soap_wrap(self.take(etree.tostring(root.find(f"{{{SOAP11}}}Body")[0])))
        envelope = read_envelope(root)
        if envelope.payload is None:
            return render_reply(envelope, Outcome(Result.FAILED, [ReplyError("1.9", "no payload")]))
        items, _errors = read_end_device_controls(envelope.payload, envelope.header.message_id)
        refused = [i for i in items if i.meter.key in self.behaviour.refused_meters]
        if refused:
            errors = [ReplyError("2.15", f"unknown meter {i.meter.key} at {self.name}",
                                 object_id=i.meter.key) for i in refused]  # fmt: skip
            return render_reply(envelope, Outcome(Result.FAILED, errors))
        for item in items:
            kind = parse_kind(item.control_type, item.action)
            with self._lock:
                self.received.append((item.mrid, kind.value, item.meter.key))
            outcome = self.behaviour.outcome(item.mrid, item.meter.key)
            if outcome is not None:
                command = Command(item.mrid, kind, item.meter, self.name, self.name,
                                  period=item.period)  # fmt: skip
                self.behaviour.later(
                    self.behaviour.outcome_delay,
                    partial(self._report, command, outcome, envelope.header.message_id),
                )
        return render_reply(envelope, Outcome(summary=f"{len(items)} command(s) queued"))

    def _report(self, command: Command, outcome: str, correlation: str | None) -> None:
        state = State.EXECUTED if outcome == "executed" else State.FAILED
        reason = DONE.get(command.kind, "relay operated")
        reason = reason if state is State.EXECUTED else "meter did not respond"
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
