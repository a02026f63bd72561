"""The MQTT vendor adapter: subscribes to each vendor profile's topics on the broker
(QoS 1, persistent session, reconnect with back-off), turns vendor JSON into CIM messages
for the pipeline, and publishes commands to the vendor's command topic.

Two topic layouts are served. The shared one, ``<prefix>/<vendor topics>``, feeds the
default tenant. A head-end with a broker login of its own (``cimhub mqtt login``) publishes
under ``<prefix>/<tenant>/<head-end>/<vendor topics>``: its messages go to its tenant, and
its commands to its own command topic, so the broker's ACL (``cimhub mqtt acl``) can keep
each head-end to its own topics. A message under a tenant/head-end the hub holds no login
for (or of another vendor) is refused and dead-lettered (6.1).

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
from cimhub.domain.mqtt_login import head_end_prefix
from cimhub.errors import CimHubError, InvalidValueError

log = logging.getLogger("cimhub.mqtt")
#: Hands a CIM message to the pipeline: (raw bytes, tenant code) → result text (OK, FAILED…).
Ingest = Callable[[bytes, str], str]
#: Keeps a refused payload: (topic, reason, payload) → None.
DeadLetter = Callable[[str, str, bytes], None]
#: The vendor of a tenant's head-end that has a broker login of its own, else None.
HeadEnds = Callable[[str, str], str | None]
#: Stands for the tenant and head-end levels of per-head-end topics in subscriptions.
EACH_HEAD_END = "+/+"


def route(
    profiles: Iterable[VendorProfile], prefix: str, topic: str
) -> tuple[str, VendorProfile] | None:
    """The kind of a topic (readings, events, status) and the profile it belongs to, on
    the shared topics or under a head-end's own prefix."""
    for under in (prefix, f"{prefix}/{EACH_HEAD_END}"):
        for profile in profiles:
            for kind in TRANSLATIONS:
                if kind in profile.topics and mqtt.topic_matches_sub(
                    profile.topic(kind, under), topic
                ):
                    return kind, profile
    return None


def head_end(profiles: Iterable[VendorProfile], prefix: str, topic: str) -> tuple[str, str] | None:
    """(tenant, head-end) of a topic under a head-end's own prefix; None on shared ones."""
    routed = route(profiles, prefix, topic)
    if routed is None or mqtt.topic_matches_sub(routed[1].topic(routed[0], prefix), topic):
        return None
    depth = prefix.count("/") + 1
    levels = topic.split("/")
    return levels[depth], levels[depth + 1]


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
        head_ends: HeadEnds | None = None,
    ) -> None:
        self.profiles = {p.name: p for p in profiles}
        self.ingest = ingest
        self.tenant = tenant
        self.prefix = prefix
        self.publish_timeout = publish_timeout
        self.dead_letter = dead_letter
        self.head_ends = head_ends
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
        """(topic filter, kind, profile) for every inbound topic of every profile: shared,
        and (when head-ends may have logins) under each tenant's head-end."""
        prefixes = [self.prefix] + ([f"{self.prefix}/{EACH_HEAD_END}"] if self.head_ends else [])
        return [
            (profile.topic(kind, prefix), kind, profile)
            for prefix in prefixes
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
        if routed is None:
            return
        kind, profile = routed
        owner = head_end(self.profiles.values(), self.prefix, msg.topic)
        if owner is None:
            self.handle(profile, kind, msg.topic, msg.payload)
        elif self.head_ends is not None and self.head_ends(*owner) == profile.name:
            self.handle(profile, kind, msg.topic, msg.payload, tenant=owner[0])
        else:
            reason = (
                f"no MQTT head-end {owner[1]!r} of vendor {profile.name!r} in tenant {owner[0]!r}"
            )
            self._refuse(msg.topic, "6.1", reason, msg.payload)

    def handle(
        self, profile: VendorProfile, kind: str, topic: str, payload: bytes, tenant: str = ""
    ) -> None:
        """Translate one vendor payload for the pipeline (for ``tenant``, else the default
        one); refuse it, or the rows of it that do not fit, alone."""
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
            self.answers.append((topic, self.ingest(translation.message, tenant or self.tenant)))
        except Exception:  # the pipeline answers errors; anything else must not end the loop
            log.exception("MQTT %s from %s could not be processed", kind, topic)

    def _refuse(self, topic: str, code: str, reason: str, body: bytes) -> None:
        log.warning("MQTT payload from %s refused: %s", topic, reason)
        self.rejected.append((topic, reason))
        if self.dead_letter is not None:
            self.dead_letter(topic, f"{code} {reason}", body)

    def publish_command(
        self, vendor: str, tenant: str, command: Command, hes: str | None = None
    ) -> None:
        """Publish a command to the vendor's command topic (QoS 1, waits for the broker):
        the head-end's own one when it has a broker login, else the shared one."""
        profile = self.profiles.get(vendor)
        if profile is None:
            raise HesUnavailableError(f"no MQTT vendor profile {vendor!r} is loaded")
        prefix = self.prefix
        if hes and self.head_ends and self.head_ends(tenant, hes) == vendor:
            prefix = head_end_prefix(self.prefix, tenant, hes)
        if not self.connected:
            raise HesUnavailableError("MQTT broker not connected")
        topic = profile.topic("command", prefix, meter=command_meter(command))
        info = self.client.publish(topic, command_json(profile, command), qos=1)
        try:
            info.wait_for_publish(self.publish_timeout)
        except (RuntimeError, ValueError) as exc:
            raise HesUnavailableError(f"MQTT publish failed: {exc}") from exc
        if not info.is_published():
            raise HesUnavailableError("MQTT broker did not confirm the command in time")
