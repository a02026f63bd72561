"""Every golden message in cim/messages is exercised: schema verdict and the hub's answer."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib import resources

import pytest
from lxml import etree

from cimhub.app import Hub
from cimhub.bus.pipeline import Answer
from cimhub.message import schema
from cimhub.message.verb import parse_verb
from cimhub.settings import DEFAULT_NAMESPACE_ALIASES
from cimhub.testing.masterdata import seed_golden
from cimhub.testing.replies import ParsedReply

Send = Callable[..., Answer]

MESSAGES = resources.files("cimhub") / "cim" / "messages"
INDEX = tomllib.loads((MESSAGES / "index.toml").read_text(encoding="utf-8"))["message"]


def _id(entry: dict) -> str:
    return entry["file"].removesuffix(".xml")


@pytest.mark.parametrize("entry", INDEX, ids=_id)
def test_schema_verdict_matches_the_index(entry: dict) -> None:
    raw = (MESSAGES / entry["file"]).read_bytes()
    try:
        doc = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        assert not entry["valid"]
        return
    if doc.getroottree().docinfo.doctype:  # DOCTYPEs are never acceptable CIM
        assert not entry["valid"]
        return
    assert schema.compiled_schema().validate(doc) is entry["valid"], (
        schema.compiled_schema().error_log
    )
    if (
        not entry["valid"] and entry["expect_result"] == "OK"
    ):  # legacy namespaces: valid once normalised
        text = raw.decode()
        for old, new in DEFAULT_NAMESPACE_ALIASES.items():
            text = text.replace(old, new)
        assert schema.compiled_schema().validate(etree.fromstring(text.encode()))


@pytest.mark.parametrize("entry", INDEX, ids=_id)
def test_the_hub_answers_as_the_index_says(entry: dict, hub: Hub, send: Send) -> None:
    verb = parse_verb(entry["verb"])
    handled = verb is not None and hub.registry.get(entry["noun"], verb) is not None
    if entry["noun"] == "MeterReadings" and entry["verb"] == "get":
        # queries need data to answer: seed it from the golden created messages first
        for seed in INDEX:
            if (
                seed["noun"] == "MeterReadings"
                and seed["verb"] == "created"
                and seed["expect_result"] == "OK"
            ):
                send((MESSAGES / seed["file"]).read_bytes())
    for seed in entry.get("seed", []):  # master data a message builds on
        seed_golden(hub, "t1", MESSAGES / seed, send)
    reply = ParsedReply.of(send((MESSAGES / entry["file"]).read_bytes()).body)
    if handled or entry["expect_result"] == "FAILED":
        assert (reply.result, reply.codes[0]) == (entry["expect_result"], entry["expect_code"]), (
            reply.reasons
        )
        if entry["verb"] == "get" and entry["expect_result"] == "OK":
            if entry["noun"] == "MeterReadings":
                assert reply.readings(), "a golden query must find the golden readings"
            else:
                assert reply.root.find(".//{*}Payload") is not None, "a golden query finds data"
    else:  # a noun × verb this hub does not handle yet is refused as such, never half-done
        assert (reply.result, reply.codes[0]) == ("FAILED", "1.8")
