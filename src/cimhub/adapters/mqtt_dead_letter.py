"""MQTT dead letters: a vendor payload, or one row of it, that does not fit its profile is
kept with the reason (`cimhub dlq list|show`); once the profile is fixed, `cimhub dlq
replay` translates it again and sends it through the pipeline, once, and audits it.

A replay that is interrupted before the letter is marked may run again: the message id is
derived from the payload's bytes, so the pipeline answers the repeat with its first reply
and applies nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cimhub.adapters.mqtt import route
from cimhub.adapters.profile import VendorProfile
from cimhub.adapters.vendor_json import TRANSLATIONS
from cimhub.bus.pipeline import Inbound, Pipeline
from cimhub.errors import CimHubError
from cimhub.message.reply import Result
from cimhub.store.audit import AuditLog
from cimhub.store.database import Database
from cimhub.store.dead_letters import EVERY_TENANT, DeadLetter, DeadLetterRepository

QUEUE_PREFIX = "mqtt:"
TOPIC, TENANT = "mqtt_topic", "tenant"


def record(database: Database, topic: str, reason: str, body: bytes, *, tenant: str) -> int:
    """Keep a payload that does not fit its profile, with the reason and its tenant."""
    with database.unit_of_work(hub=True) as uow:
        return DeadLetterRepository(uow).add(
            tenant_id=uow.tenants.find(tenant), queue=QUEUE_PREFIX + topic, reason=reason,
            attempts=1, headers={TOPIC: topic, TENANT: tenant}, properties={}, body=body,
        )  # fmt: skip


def is_mqtt(letter: DeadLetter) -> bool:
    return letter.queue.startswith(QUEUE_PREFIX)


@dataclass(frozen=True, slots=True)
class Replay:
    """How a replay went: ``replayed`` (with the pipeline's result), ``already``, or
    ``refused`` (the letter stays; the reason says why)."""

    outcome: str
    detail: str = ""


def replay(
    database: Database,
    pipeline: Pipeline,
    profiles: Iterable[VendorProfile],
    *,
    prefix: str,
    letter_id: int,
    actor: str,
    default_tenant: str,
    force: bool = False,
) -> Replay:
    """Translate an MQTT dead letter with today's profiles and process it."""
    with database.unit_of_work(hub=True) as uow:
        letter = DeadLetterRepository(uow).get(letter_id, EVERY_TENANT)
    if letter is None or not is_mqtt(letter):
        return Replay("refused", f"no MQTT dead letter {letter_id}")
    if letter.replayed_at is not None and not force:
        return Replay("already")
    topic = str(letter.headers.get(TOPIC) or letter.queue.removeprefix(QUEUE_PREFIX))
    routed = route(profiles, prefix, topic)
    if routed is None:
        return Replay("refused", f"no loaded vendor profile takes topic {topic}")
    try:
        translation = TRANSLATIONS[routed[0]](routed[1], letter.body)
    except CimHubError as exc:
        return Replay("refused", f"{exc.code} {exc.reason}")
    if translation.message is None or translation.refused:
        return Replay("refused", f"still does not fit: {translation.refused[0].reason}")
    tenant = str(letter.headers.get(TENANT) or default_tenant)
    answer = pipeline.process(Inbound(translation.message, tenant, "mqtt", audit_actor=actor))
    if answer.technical or answer.result is Result.FAILED:
        return Replay("refused", f"the hub answered {answer.result.value} {answer.code}")
    with database.unit_of_work(hub=True) as uow:
        DeadLetterRepository(uow).mark_replayed(letter_id, EVERY_TENANT)
        AuditLog(uow).record(actor, "dead_letter.replay", f"dead_letter:{letter_id}",
                             tenant=tenant, after={"queue": letter.queue,
                                                   "result": answer.result.value})  # fmt: skip
    return Replay("replayed", f"{answer.result.value} {answer.code}")
