"""Routing keys and queues: every handled (noun, verb) reaches exactly one handler group."""

from __future__ import annotations

import pytest

from cimhub.bus import topology
from cimhub.handlers.registry import default_registry
from cimhub.message.verb import Verb


def _matches(pattern: str, key: str) -> bool:
    """AMQP topic matching for patterns made of words and '*' (what the hub binds)."""
    words, parts = pattern.split("."), key.split(".")
    pairs = zip(words, parts, strict=False)
    return len(words) == len(parts) and all(w in ("*", p) for w, p in pairs)


def test_routing_key_is_tenant_noun_verb_and_keeps_the_tenant_one_word() -> None:
    assert topology.routing_key("discom-a", "MeterReadings", Verb.CREATED) == (
        "discom-a.MeterReadings.created"
    )
    assert topology.routing_key("in.up.discom", "MeterReadings", "get") == (
        "in_up_discom.MeterReadings.get"
    )


@pytest.mark.parametrize(
    ("noun", "verb", "group"),
    [
        ("MeterReadings", "created", "readings"),
        ("MeterReadings", "get", "queries"),
        ("EndDeviceEvents", "created", "events"),
        ("EndDeviceControls", "create", "controls"),
        ("MeterConfig", "change", "masterdata"),
        ("UsagePointConfig", "get", "queries"),
    ],
)
def test_handler_groups(noun: str, verb: str, group: str) -> None:
    assert topology.group_of(noun, verb) == group


def test_every_supported_pair_is_routed_to_exactly_one_queue() -> None:
    supported = default_registry().supported()
    queues = topology.group_queues(supported)
    assert [q.name for q in queues] == [f"cimhub.{g}" for g in topology.GROUPS]
    for noun, verb in supported:
        key = topology.routing_key("t", noun, verb)
        hits = [q.name for q in queues for b in q.bindings if _matches(b.routing_key, key)]
        assert hits == [topology.group_queue_name(topology.group_of(noun, verb))], key


def test_queues_are_durable_and_dead_letter_to_the_dlx() -> None:
    for queue in topology.core_queues(default_registry().supported()):
        assert queue.durable
    inbound = topology.inbound_queue()
    assert inbound.queue_arguments == {
        "x-dead-letter-exchange": "cimhub.dlx",
        "x-dead-letter-routing-key": "cimhub.inbound",
    }
    sub = topology.subscription_queue("billing")
    assert sub.name == "cimhub.sub.billing"
    assert sub.queue_arguments["x-single-active-consumer"] is True
    assert topology.retry_queue().queue_arguments == {"x-dead-letter-exchange": ""}
