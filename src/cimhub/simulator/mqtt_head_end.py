"""A simulated vendor head-end on MQTT, speaking one vendor profile's JSON: takes commands
on the profile's command topic, publishes the vendor's status (accepted, then
executed/failed, as its behaviour says) and, on request, block-load reads and events.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

from cimhub.simulator.behaviour import Behaviour


class MqttHes:
    """A vendor head-end on MQTT, speaking one vendor profile's JSON."""

    def __init__(
        self, mqtt_url: str, profile: Any, prefix: str, *, behaviour: Behaviour | None = None
    ) -> None:
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
    return datetime.fromtimestamp(epoch, UTC).isoformat()
