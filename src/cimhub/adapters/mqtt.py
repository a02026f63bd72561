"""The MQTT vendor adapter: subscribes to each vendor profile's topics on the broker
(QoS 1, persistent session, reconnect with back-off), turns vendor JSON into CIM messages
for the pipeline, and publishes commands to the vendor's command topic.

A payload that does not match its profile is refused on its own, and so is each row of a
payload that does not (logged with the reason, kept in ``rejected`` and dead-lettered);
the payload's other rows, and the rest of the stream, go on.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import urlparse

import paho.mqtt.client as mqtt

from cimhub.adapters.hes_client import HesUnavailableError
from cimhub.adapters.profile import VendorProfile
from cimhub.adapters.vendor_json import TRANSLATIONS, command_json, command_meter
from cimhub.domain.command import Command
from cimhub.errors import CimHubError, InvalidValueError

log = logging.getLogger("cimhub.mqtt")
#: Hands a CIM message to the pipeline: (raw bytes, tenant code) → result text (OK, FAILED…).
Ingest = Callable[[bytes, str], str]
#: Keeps a refused payload: (topic, reason, payload) → None.
DeadLetter = Callable[[str, str, bytes], None]


def route(
    profiles: Iterable[VendorProfile], prefix: str, topic: str
) -> tuple[str, VendorProfile] | None:
    """The kind of a topic (readings, events, status) and the profile it belongs to."""
    for profile in profiles:
        for kind in TRANSLATIONS:
            if kind in profile.topics and mqtt.topic_matches_sub(
                profile.topic(kind, prefix), topic
            ):
                return kind, profile
    return None


class MqttAdapter:
    def __init__(
        self,
        url: str,
        profiles: list[VendorProfile],
        ingest: Ingest,
        *,
        tenant: str,
        prefix: str,
        client_id: str | None = None,
        publish_timeout: float = 10.0,
        dead_letter: DeadLetter | None = None,
    ) -> None:
        self.profiles = {p.name: p for p in profiles}
        self.ingest = ingest
        self.tenant = tenant
        self.prefix = prefix
        self.publish_timeout = publish_timeout
        self.dead_letter = dead_letter
        self.rejected: list[tuple[str, str]] = []  # (topic, reason)
        self.answers: list[tuple[str, str]] = []  # (topic, pipeline result)
        self._connected = threading.Event()
        parsed = urlparse(url)
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 1883
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"cimhub-{uuid.uuid4().hex[:12]}",
            clean_session=client_id is None,  # a named client keeps its session (QoS 1)
        )
        if parsed.username:
            self.client.username_pw_set(parsed.username, parsed.password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=60)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_a: self._connected.clear()
        self.client.on_message = self._on_message

    def subscriptions(self) -> list[tuple[str, str, VendorProfile]]:
        """(topic filter, kind, profile) for every inbound topic of every profile."""
        return [
            (profile.topic(kind, self.prefix), kind, profile)
            for profile in self.profiles.values()
            for kind in TRANSLATIONS
            if kind in profile.topics
        ]

    def start(self, wait: float = 10.0) -> None:
        self.client.connect_async(self._host, self._port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(wait):
            log.warning("MQTT broker %s:%s not reachable yet; retrying", self._host, self._port)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object
    ) -> None:
        if getattr(rc, "is_failure", False):
            log.warning("MQTT connect refused: %s", rc)
            return
        for topic, _kind, _profile in self.subscriptions():
            client.subscribe(topic, qos=1)
        self._connected.set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        routed = route(self.profiles.values(), self.prefix, msg.topic)
        if routed is not None:
            self.handle(routed[1], routed[0], msg.topic, msg.payload)

    def handle(self, profile: VendorProfile, kind: str, topic: str, payload: bytes) -> None:
        """Translate one vendor payload for the pipeline; refuse it, or the rows of it that
        do not fit, alone."""
        try:
            translation = TRANSLATIONS[kind](profile, payload)
        except CimHubError as exc:
            self._refuse(topic, exc.code, exc.reason, payload)
            return
        for row in translation.refused:
            self._refuse(topic, InvalidValueError.code, row.reason, row.body)
        if translation.message is None:
            return
        try:
            self.answers.append((topic, self.ingest(translation.message, self.tenant)))
        except Exception:  # the pipeline answers errors; anything else must not end the loop
            log.exception("MQTT %s from %s could not be processed", kind, topic)

    def _refuse(self, topic: str, code: str, reason: str, body: bytes) -> None:
        log.warning("MQTT payload from %s refused: %s", topic, reason)
        self.rejected.append((topic, reason))
        if self.dead_letter is not None:
            self.dead_letter(topic, f"{code} {reason}", body)

    def publish_command(self, vendor: str, _tenant: str, command: Command) -> None:
        """Publish a command to the vendor's command topic (QoS 1, waits for the broker)."""
        profile = self.profiles.get(vendor)
        if profile is None:
            raise HesUnavailableError(f"no MQTT vendor profile {vendor!r} is loaded")
        if not self.connected:
            raise HesUnavailableError("MQTT broker not connected")
        topic = profile.topic("command", self.prefix, meter=command_meter(command))
        info = self.client.publish(topic, command_json(profile, command), qos=1)
        try:
            info.wait_for_publish(self.publish_timeout)
        except (RuntimeError, ValueError) as exc:
            raise HesUnavailableError(f"MQTT publish failed: {exc}") from exc
        if not info.is_published():
            raise HesUnavailableError("MQTT broker did not confirm the command in time")
