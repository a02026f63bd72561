"""Commands at run time: the HES dispatcher, the replies waiting for on-demand reads, and
the MQTT vendor adapter when configured."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cimhub.adapters.dispatcher import HesDispatcher
from cimhub.adapters.mqtt import HeadEnds, MqttAdapter, head_end
from cimhub.adapters.mqtt_dead_letter import record as record_dead_letter
from cimhub.adapters.poller import Poller
from cimhub.adapters.profile import VendorProfile, load_profiles
from cimhub.bus.pipeline import Inbound, Pipeline
from cimhub.handlers.deferred import send_due
from cimhub.settings import Settings
from cimhub.store.database import Database


@dataclass
class CommandRuntime:
    dispatcher: HesDispatcher
    mqtt: MqttAdapter | None = None
    replies: Poller | None = None  # GetMeterReadings replies waiting for on-demand reads

    @classmethod
    def start(
        cls, settings: Settings, database: Database, pipeline: Pipeline, *, interval: float = 0.5
    ) -> CommandRuntime:
        adapter = None
        if settings.mqtt_url and settings.mqtt_vendors:
            profiles = load_profiles(settings.mqtt_vendors)
            adapter = MqttAdapter(
                settings.mqtt_url,
                profiles,
                lambda raw, tenant: pipeline.process(Inbound(raw, tenant, "mqtt")).result.value,
                tenant=settings.default_tenant,
                prefix=settings.mqtt_topic_prefix,
                client_id=settings.mqtt_client_id,
                dead_letter=lambda topic, reason, body: record_dead_letter(
                    database, topic, reason, body, tenant=_tenant_of(settings, profiles, topic)
                ),
                head_ends=head_ends(database),
            )
            adapter.start()
        dispatcher = HesDispatcher(
            database, settings, adapter.publish_command if adapter is not None else None,
            pipeline,
        )  # fmt: skip
        dispatcher.start(interval)
        replies = Poller("cimhub-read-replies", lambda: send_due(database, settings), 1.0)
        return cls(dispatcher, adapter, replies.start())

    def stop(self) -> None:
        if self.replies is not None:
            self.replies.stop()
        self.dispatcher.stop()
        if self.mqtt is not None:
            self.mqtt.stop()


def _tenant_of(settings: Settings, profiles: list[VendorProfile], topic: str) -> str:
    """The tenant a dead letter belongs to: its head-end's, else the default tenant."""
    owner = head_end(profiles, settings.mqtt_topic_prefix, topic)
    return owner[0] if owner else settings.default_tenant


def head_ends(database: Database, ttl: float = 30.0) -> HeadEnds:
    """Which head-ends have broker logins (``cimhub mqtt login``), asked of the store at
    most every ``ttl`` seconds per head-end: a new or revoked login counts within that."""
    from cimhub.store.mqtt_logins import MqttLogins

    known: dict[tuple[str, str], tuple[str | None, float]] = {}

    def vendor_of(tenant: str, hes: str) -> str | None:
        now = time.monotonic()
        vendor, at = known.get((tenant, hes), (None, -ttl))
        if now - at < ttl:
            return vendor
        with database.unit_of_work(hub=True) as uow:
            vendor = MqttLogins(uow).vendor_of(tenant, hes)
        if len(known) > 10_000:  # bounded under a flood of made-up topics
            known.clear()
        known[(tenant, hes)] = (vendor, now)
        return vendor

    return vendor_of
