"""A simulated vendor head-end on MQTT, speaking one vendor profile's JSON: takes commands
on the profile's command topic, publishes the vendor's status (accepted, then
executed/failed after the meter's delay, as its behaviour says), and its meters' profiles
and events.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

from cimhub.adapters.profile import VendorProfile
from cimhub.simulator import vendor_writer
from cimhub.simulator.behaviour import Behaviour
from cimhub.simulator.faults import TAMPER_IDS
from cimhub.simulator.profiles import Batch, ProfileGenerator


class MqttHes:
    """A vendor head-end on MQTT, speaking one vendor profile's JSON."""

    def __init__(
        self, mqtt_url: str, profile: VendorProfile, prefix: str, *,
        behaviour: Behaviour | None = None, generator: ProfileGenerator | None = None,
    ) -> None:  # fmt: skip
        self.profile = profile
        self.prefix = prefix
        self.behaviour = behaviour or Behaviour()
        # the meters' memory: what a read sends
        self.generator = generator or ProfileGenerator([], int(time.time()))
        self.received: list[dict[str, Any]] = []
        self.published: Counter[str] = Counter()  # messages sent, by kind (readings, events…)
        self._ready = threading.Event()
        parsed = urlparse(mqtt_url)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"hes-sim-{uuid.uuid4().hex[:8]}"
        )
        if parsed.username:  # its own broker login (cimhub mqtt login)
            self.client.username_pw_set(parsed.username, parsed.password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 1883

    def start(self) -> MqttHes:
        self.behaviour.open()
        self.client.connect(self._host, self._port, keepalive=30)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise RuntimeError("the simulated head-end could not subscribe")
        return self

    def stop(self) -> None:
        self.behaviour.close()
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
        ack = {**base, spec["status"]: "accepted"} if self.behaviour.ack else None
        outcome = self.behaviour.outcome(str(base[spec["id"]]), str(base[spec["meter"]]))
        done = None
        if outcome is not None:
            status = "success" if outcome == "executed" else "failed"
            span = {k: command[k] for k in (spec.get("from"), spec.get("to")) if k in command}
            done = {**base, **span, spec["status"]: status, spec["reason"]: f"simulated {outcome}"}
        self.behaviour.later(self.behaviour.ack_delay, partial(self._answer, ack, done))

    def _answer(self, ack: dict[str, Any] | None, done: dict[str, Any] | None) -> None:
        """Accepted now, the outcome after the meter's delay (in this order)."""
        if ack is not None:
            self._status(ack)
        if done is not None:
            self.behaviour.later(self.behaviour.outcome_delay, partial(self._status, done))

    def _status(self, body: dict[str, Any]) -> None:
        """Report a command's status (a read first sends the blocks of the period it named,
        else the meter's last interval)."""
        spec = self.profile.commands
        read = self.profile.command_words.get("read")
        if body[spec["status"]] == "success" and body[spec["action"]] == read:
            now = int(time.time()) // 900 * 900  # the period asked, else the last block
            start, end = self._period(body) or (now - 900, now)
            self.read(str(body[spec["meter"]]), start, end)
        stamp = vendor_writer.stamp(self.profile.events, int(time.time()))
        self.publish("status", {**body, spec["time"]: stamp})

    def _period(self, body: dict[str, Any]) -> tuple[int, int] | None:
        """The (start, end] a read command named in the profile's period fields."""
        spec, fmt = self.profile.commands, self.profile.readings.get("time_format")
        if spec.get("from") not in body or spec.get("to") not in body:
            return None
        ends = (body[spec["from"]], body[spec["to"]])
        start, end = (
            int(t) if fmt == "epoch" else int(datetime.fromisoformat(t).timestamp()) for t in ends
        )
        return start, end

    def send(self, batch: Batch) -> None:
        """Publish a batch: one readings message per meter, then the events."""
        for meter, rows in vendor_writer.rows_by_meter(batch).items():
            self.publish("readings", vendor_writer.readings_payload(self.profile, meter, rows))
        events = vendor_writer.events_payload(self.profile, batch)
        if events is not None:
            self.publish("events", events)

    def read(self, meter: str, start: int, end: int) -> None:
        """Publish the blocks the meter's memory holds for (start, end]."""
        found = self.generator.meter(meter)
        self.send(Batch(blocks=self.generator.blocks(found, start, end)))

    def publish(self, kind: str, body: dict[str, Any], *, wait: bool = True) -> None:
        """Publish (QoS 1); ``wait`` for the broker's PUBACK — never from paho's own callback
        thread, which is the one that would read it."""
        info = self.client.publish(self.profile.topic(kind, self.prefix), json.dumps(body), qos=1)
        self.published[kind] += 1
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
        """Every tamper event ID of IS 15959 the profile maps (cover open, magnetic, current
        reverse, neutral disturbance, CT bypass), ``every`` seconds apart from epoch ``at``,
        in one message; the IDs sent."""
        ids = [i for i in TAMPER_IDS if i in self.profile.event_types]
        spec = self.profile.events
        events = [
            {spec["meter"]: meter, spec["id"]: event_id,
             spec["time"]: vendor_writer.stamp(spec, at + n * every)}
            for n, event_id in enumerate(ids)
        ]  # fmt: skip
        self.publish("events", {spec["list"]: events})
        return ids
