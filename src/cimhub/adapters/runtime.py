"""Commands at run time: the HES dispatcher, and the MQTT vendor adapter when configured."""

from __future__ import annotations

from dataclasses import dataclass

from cimhub.adapters.dispatcher import HesDispatcher
from cimhub.adapters.mqtt import MqttAdapter
from cimhub.adapters.profile import load_profile
from cimhub.bus.pipeline import Inbound, Pipeline
from cimhub.settings import Settings
from cimhub.store.database import Database


@dataclass
class CommandRuntime:
    dispatcher: HesDispatcher
    mqtt: MqttAdapter | None = None

    @classmethod
    def start(
        cls, settings: Settings, database: Database, pipeline: Pipeline, *, interval: float = 0.5
    ) -> CommandRuntime:
        adapter = None
        if settings.mqtt_url and settings.mqtt_vendors:
            profiles = [load_profile(v.strip()) for v in settings.mqtt_vendors.split(",") if v]
            adapter = MqttAdapter(
                settings.mqtt_url,
                profiles,
                lambda raw, tenant: pipeline.process(Inbound(raw, tenant, "mqtt")).result.value,
                tenant=settings.default_tenant,
                prefix=settings.mqtt_topic_prefix,
                client_id=settings.mqtt_client_id,
                dead_letter=lambda topic, reason, body: _dead_letter(database, topic, reason, body),
            )
            adapter.start()
        dispatcher = HesDispatcher(
            database, settings, adapter.publish_command if adapter is not None else None
        )
        dispatcher.start(interval)
        return cls(dispatcher, adapter)

    def stop(self) -> None:
        self.dispatcher.stop()
        if self.mqtt is not None:
            self.mqtt.stop()


def _dead_letter(database: Database, topic: str, reason: str, body: bytes) -> None:
    """A vendor payload that does not fit its profile, kept with the reason (`cimhub dlq`)."""
    from cimhub.store.dead_letters import DeadLetterRepository

    with database.unit_of_work(hub=True) as uow:
        DeadLetterRepository(uow).add(
            queue=f"mqtt:{topic}", reason=reason, attempts=1, headers={"mqtt_topic": topic},
            properties={}, body=body,
        )  # fmt: skip
