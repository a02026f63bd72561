"""Commands at run time: the HES dispatcher, the replies waiting for on-demand reads, and
the MQTT vendor adapter when configured."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from cimhub.adapters.dispatcher import HesDispatcher
from cimhub.adapters.mqtt import MqttAdapter
from cimhub.adapters.mqtt_dead_letter import record as record_dead_letter
from cimhub.adapters.poller import Poller
from cimhub.adapters.profile import load_profiles
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
                dead_letter=partial(record_dead_letter, database, tenant=settings.default_tenant),
            )
            adapter.start()
        dispatcher = HesDispatcher(
            database, settings, adapter.publish_command if adapter is not None else None
        )
        dispatcher.start(interval)
        replies = Poller("cimhub-read-replies", lambda: send_due(database, settings), 1.0)
        return cls(dispatcher, adapter, replies.start())

    def stop(self) -> None:
        if self.replies is not None:
            self.replies.stop()
        self.dispatcher.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
