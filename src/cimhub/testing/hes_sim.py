"""A head-end simulator for tests, the demo and `cimhub hes-sim`: speaks CIM over HTTP and
vendor JSON over MQTT, answers commands (accepted, then executed — or failed, or never,
at configurable rates) and pushes interval reads and events to the hub.

HTTP: a loopback server takes CreateEndDeviceControls, answers OK (the command is queued)
and reports the outcome to the hub's ``/cim`` as ExecutedEndDeviceControls. ``down()``
stops answering (connections refused) until ``up()``.
MQTT: subscribes to a vendor profile's command topic, publishes the vendor's status JSON
(accepted, then executed/failed) and, on request, block-load reads and events.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from lxml import etree

from cimhub.bus.events import wrap
from cimhub.domain.command import Command, CommandKind, State, Transition, parse_kind
from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.mappings.end_device_controls import read_end_device_controls, write_end_device_controls
from cimhub.mappings.meter_readings import SeriesOut, write_meter_readings
from cimhub.message.envelope import read_envelope
from cimhub.message.reply import Outcome, ReplyError, Result, render_reply
from cimhub.message.verb import Noun, Verb

log = logging.getLogger("cimhub.hes_sim")
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
KWH_15MIN = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"


@dataclass
class Behaviour:
    """How the simulated head-end answers: shares of commands that fail or never finish."""

    fail_rate: float = 0.0
    silent_rate: float = 0.0  # accepted, then nothing: the hub's timeout must catch it
    refused_meters: frozenset[str] = frozenset()  # meters the head-end does not know (2.15)
    ack: bool = True  # report "queued" before the outcome (MQTT)
    seed: int = 61968
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def outcome(self) -> str | None:
        draw = self.rng.random()
        if draw < self.silent_rate:
            return None
        return "failed" if draw < self.silent_rate + self.fail_rate else "executed"


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
        reason = "relay operated" if state is State.EXECUTED else "meter did not respond"
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


def soap_wrap(body: bytes) -> bytes:
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11})
    etree.SubElement(envelope, f"{{{SOAP11}}}Body").append(etree.fromstring(body))
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def post_to_hub(hub_url: str, body: bytes, tenant: str) -> int:
    try:
        response = httpx.post(
            hub_url + "/cim", content=body, timeout=30,
            headers={"Content-Type": "application/xml", "X-Cimhub-Tenant": tenant},
        )  # fmt: skip
    except httpx.HTTPError as exc:
        log.warning("the hub did not take a message: %s", exc)
        return 0
    return response.status_code


class MqttHes:
    """A vendor head-end on MQTT, speaking one vendor profile's JSON."""

    def __init__(
        self, mqtt_url: str, profile: Any, prefix: str, *, behaviour: Behaviour | None = None
    ) -> None:
        from urllib.parse import urlparse

        import paho.mqtt.client as mqtt

        self.profile = profile
        self.prefix = prefix
        self.behaviour = behaviour or Behaviour()
        self.received: list[dict[str, Any]] = []
        self._ready = threading.Event()
        parsed = urlparse(mqtt_url)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"hes-sim-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 1883

    def start(self) -> MqttHes:
        self.client.connect(self._host, self._port, keepalive=30)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise RuntimeError("the simulated head-end could not subscribe")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, *_args: Any) -> None:
        result = client.subscribe(self.profile.topic("command", self.prefix, meter="+"), qos=1)
        if result[0] == 0:
            self._ready.set()

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        command = json.loads(msg.payload)
        self.received.append(command)
        spec = self.profile.commands
        base = {spec["id"]: command[spec["id"]], spec["meter"]: command[spec["meter"]],
                spec["action"]: command[spec["action"]]}  # fmt: skip
        if self.behaviour.ack:
            ack = {**base, spec["status"]: "accepted", spec["time"]: self._now()}
            self.publish("status", ack, wait=False)
        outcome = self.behaviour.outcome()
        if outcome is not None:
            status = "success" if outcome == "executed" else "failed"
            done = {**base, spec["status"]: status, spec["time"]: self._now(),
                    spec["reason"]: f"simulated {outcome}"}  # fmt: skip
            self.publish("status", done, wait=False)

    def _now(self) -> Any:
        stamp = int(time.time())
        if self.profile.events.get("time_format") == "epoch":
            return stamp
        from datetime import UTC, datetime

        return datetime.fromtimestamp(stamp, UTC).isoformat()

    def publish(self, kind: str, body: dict[str, Any], *, wait: bool = True) -> None:
        """Publish (QoS 1); ``wait`` for the broker's PUBACK — never from paho's own callback
        thread, which is the one that would read it."""
        info = self.client.publish(self.profile.topic(kind, self.prefix), json.dumps(body), qos=1)
        if wait:
            info.wait_for_publish(10)

    def publish_block_load(self, meter: str, rows: Sequence[dict[str, Any]]) -> None:
        """Publish interval rows in the profile's layout (rows are {time, obis: value})."""
        spec = self.profile.readings
        self.publish("readings", {spec["meter"]: meter, spec["list"]: list(rows)})

    def publish_event(self, meter: str, code: str, at: Any) -> None:
        spec = self.profile.events
        self.publish(
            "events", {spec["list"]: [{spec["meter"]: meter, spec["id"]: code, spec["time"]: at}]}
        )

    def tamper_burst(self, meter: str, at: int, *, every: int = 5) -> list[str]:
        """Fault injection: every tamper event ID of IS 15959 the profile maps (cover open,
        magnetic, current reverse, neutral disturbance, CT bypass), ``every`` seconds
        apart from epoch ``at``, in one message; the IDs sent."""
        ids = [i for i in TAMPER_IDS if i in self.profile.event_types]
        spec = self.profile.events
        epoch = spec.get("time_format") == "epoch"
        events = [
            {spec["meter"]: meter, spec["id"]: event_id,
             spec["time"]: at + n * every if epoch else _iso(at + n * every)}
            for n, event_id in enumerate(ids)
        ]  # fmt: skip
        self.publish("events", {spec["list"]: events})
        return ids


#: IS 15959 tamper occurrence IDs (india-metering.md §2): cover open, magnetic influence,
#: R-phase current reverse, neutral disturbance, CT bypass.
TAMPER_IDS = ("251", "201", "51", "203", "65")


def _iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


__all__ = ["Behaviour", "HttpHes", "MqttHes", "soap_wrap"]
