"""The registry's group handlers: what the pipeline may handle several messages at once."""

from __future__ import annotations

from cimhub.handlers.reading_ingest import INGEST
from cimhub.handlers.registry import Group, default_registry
from cimhub.message.reply import Outcome
from cimhub.message.verb import Noun, Verb

READINGS = Noun.METER_READINGS.value


def test_meter_readings_ingest_is_a_group_and_its_single_handler_a_group_of_one() -> None:
    registry = default_registry()
    for verb in (Verb.CREATED, Verb.CREATE, Verb.CHANGED):
        assert registry.group(READINGS, verb) is INGEST
        assert registry.get(READINGS, verb) == INGEST.one
    for verb in (Verb.GET, Verb.CHANGE):  # queries and edits: one message at a time
        assert registry.group(READINGS, verb) is None and registry.get(READINGS, verb)


def test_a_plain_handler_registered_later_replaces_the_group() -> None:
    registry = default_registry()
    registry.register(READINGS, (Verb.CREATED,), lambda ctx, envelope: Outcome())
    assert registry.group(READINGS, Verb.CREATED) is None
    assert registry.group(READINGS, Verb.CHANGED) is INGEST


def test_a_plain_handler_alone_handles_its_messages_one_after_the_other() -> None:
    seen: list[object] = []

    def handler(ctx: object, envelope: object) -> Outcome:
        seen.append(envelope)
        return Outcome(summary=str(envelope))

    group = Group.alone(handler)  # type: ignore[arg-type]
    outcomes = group.handle([(None, group.prepare("a")), (None, group.prepare("b"))])  # type: ignore[arg-type]
    assert seen == ["a", "b"] and [o.summary for o in outcomes] == ["a", "b"]
