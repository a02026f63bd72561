"""A simulated CIM head-end: takes CreateEndDeviceControls at its own loopback endpoint
(HTTP POST, or SOAP 1.1), answers OK (the command is queued) and reports the outcome to the
hub's ``/cim`` as ExecutedEndDeviceControls (executed, failed or never, as its behaviour
says); pushes readings on request. ``down()`` stops answering (connections refused) until
``up()``.
"""

from __future__ import annotations

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lxml import etree

from cimhub.bus.events import wrap
from cimhub.domain.command import Command, CommandKind, State, Transition, parse_kind
from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.mappings.end_device_controls import read_end_device_controls, write_end_device_controls
from cimhub.mappings.meter_readings import SeriesOut, write_meter_readings
from cimhub.message.envelope import read_envelope
from cimhub.message.reply import Outcome, ReplyError, Result, render_reply
from cimhub.message.verb import Noun, Verb
from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.hub_client import SOAP11, post_to_hub, soap_wrap

KWH_15MIN = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"
#: What the simulated meter reports having done, per kind (connect/disconnect: the relay).
DONE = {
    CommandKind.TIME_SYNC: "clock set",
    CommandKind.MD_RESET: "MD reset",
    CommandKind.PREPAID_MODE: "switched to prepaid",
    CommandKind.POSTPAID_MODE: "switched to postpaid",
    CommandKind.LOAD_LIMIT: "load limit set",
}


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpHes:
    """A CIM head-end over HTTP on 127.0.0.1; reports outcomes to ``hub_url``/cim."""

    def __init__(
        self, hub_url: str, *, name: str = "HES-SIM", tenant: str = "default",
        behaviour: Behaviour | None = None, port: int | None = None,
    ) -> None:  # fmt: skip
        self.hub_url = hub_url.rstrip("/")
        self.name = name
        self.tenant = tenant
        self.behaviour = behaviour or Behaviour()
        self.port = port or _port()
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

    def take(self, body: bytes) -> bytes:
        """Queue the commands of a CreateEndDeviceControls; the outcome follows."""
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
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
            outcome = self.behaviour.outcome()
            if outcome is not None:
                command = Command(item.mrid, kind, item.meter, self.name, self.name)
                threading.Thread(
                    target=self._report, args=(command, outcome, envelope.header.message_id),
                    daemon=True,
                ).start()  # fmt: skip
        return render_reply(envelope, Outcome(summary=f"{len(items)} command(s) queued"))

    def _report(self, command: Command, outcome: str, correlation: str | None) -> None:
        state = State.EXECUTED if outcome == "executed" else State.FAILED
        reason = DONE.get(command.kind, "relay operated")
        reason = reason if state is State.EXECUTED else "meter did not respond"
        if command.kind is CommandKind.READ and state is State.EXECUTED:  # the read itself
            now = int(time.time()) // 900 * 900
            self.push_readings(command.meter.key, now - 900, 1)
            reason = "meter read"
        command.history.append(Transition(state, int(time.time()), self.name, reason))
        payload = write_end_device_controls([command])
        body = wrap(Noun.END_DEVICE_CONTROLS.value, Verb.EXECUTED, payload,
                    str(uuid.uuid4()), correlation)  # fmt: skip
        body = body.replace(
            b"<msg:Source>cimhub</msg:Source>", f"<msg:Source>{self.name}</msg:Source>".encode()
        )
        status = post_to_hub(self.hub_url, body, self.tenant)
        with self._lock:
            self.reported.append((command.mrid, outcome, status))

    def push_readings(self, meter: str, start: int, count: int, interval: int = 900) -> int:
        """Push ``count`` 15-minute kWh values of a meter as MeterReadings created; HTTP status."""
        stamps = [start + interval * (i + 1) for i in range(count)]
        values = [round(0.1 + (i % 7) * 0.05, 3) for i in range(count)]
        payload = write_meter_readings(
            [
                (
                    MeterRef(meter),
                    [SeriesOut(KWH_15MIN, ReadingKind.INTERVAL, stamps, values, [""] * count)],
                )
            ]
        )
        body = wrap(Noun.METER_READINGS.value, Verb.CREATED, payload, str(uuid.uuid4()), None)
        return post_to_hub(self.hub_url, body, self.tenant)
