"""Hostile and broken XML is refused with its own code before anything else happens."""

from __future__ import annotations

import pytest

from cimhub.errors import (
    ForbiddenMarkupError,
    MessageSyntaxError,
    MessageTooLargeError,
    NestingTooDeepError,
)
from cimhub.message.parser import Limits, mentions_alias, normalise_namespaces, parse
from cimhub.settings import DEFAULT_NAMESPACE_ALIASES

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><r>&lol2;</r>"""


def test_well_formed_message_parses() -> None:
    assert parse(b"<a><b>1</b></a>").findtext("b") == "1"


def test_malformed_xml_names_line_and_column() -> None:
    with pytest.raises(MessageSyntaxError) as caught:
        parse(b"<a>\n<b></a>")
    assert caught.value.code == "1.1"
    assert caught.value.line == 2


@pytest.mark.parametrize("raw", [XXE, LAUGHS], ids=["external-entity", "billion-laughs"])
def test_doctype_and_entities_are_refused(raw: bytes) -> None:
    with pytest.raises(ForbiddenMarkupError) as caught:
        parse(raw)
    assert caught.value.code == "1.2"


def test_doctype_hidden_behind_a_long_prolog_is_still_refused() -> None:
    raw = b"<?xml version='1.0'?>" + b"<!--" + b"x" * 70_000 + b"-->" + XXE.split(b"?>", 1)[1]
    with pytest.raises(ForbiddenMarkupError):
        parse(raw)


def test_size_limit() -> None:
    with pytest.raises(MessageTooLargeError) as caught:
        parse(b"<a>" + b"x" * 2000 + b"</a>", Limits(max_bytes=1000))
    assert caught.value.code == "1.3"


def test_depth_limit_is_ours_not_libxml2s() -> None:
    deep = b"<a>" * 30 + b"</a>" * 30
    assert parse(deep, Limits(max_depth=30)) is not None
    with pytest.raises(NestingTooDeepError) as caught:
        parse(deep, Limits(max_depth=29))
    assert caught.value.code == "1.4"


def test_ten_thousand_deep_nesting_is_refused() -> None:
    with pytest.raises((NestingTooDeepError, MessageSyntaxError)):
        parse(b"<a>" * 10_000 + b"</a>" * 10_000)


def test_invalid_utf8_is_a_syntax_error() -> None:
    with pytest.raises(MessageSyntaxError):
        parse(b'<?xml version="1.0" encoding="UTF-8"?><a>\xff\xfe</a>')


def test_legacy_namespaces_are_normalised() -> None:
    root = parse(
        b'<m:RequestMessage xmlns:m="http://iec.ch/TC57/2008/schema/message">'
        b'<p:MeterReadings xmlns:p="http://www.iec.ch/TC57/2011/MeterReadings#"/>'
        b"</m:RequestMessage>"
    )
    assert normalise_namespaces(root, DEFAULT_NAMESPACE_ALIASES)
    assert root.tag == "{http://iec.ch/TC57/2011/schema/message}RequestMessage"
    assert root[0].tag == "{http://iec.ch/TC57/2011/MeterReadings#}MeterReadings"


@pytest.mark.parametrize("legacy", list(DEFAULT_NAMESPACE_ALIASES))
def test_a_legacy_namespace_anywhere_in_a_message_is_noticed(legacy: str) -> None:
    """The byte scan that lets a 2011 message skip the tree walk misses no alias, even
    one declared deep inside the payload."""
    current = b'<m:RequestMessage xmlns:m="http://iec.ch/TC57/2011/schema/message">'
    late = b"<x/>" * 5_000 + f'<p:MeterReadings xmlns:p="{legacy}MeterReadings#"/>'.encode()
    assert not mentions_alias(current + b"<x/>" * 5_000, DEFAULT_NAMESPACE_ALIASES)
    assert mentions_alias(current + late, DEFAULT_NAMESPACE_ALIASES)
    dotless = legacy.replace(".", "X").encode()  # an alias's dots are not wildcards
    assert not mentions_alias(current + dotless, DEFAULT_NAMESPACE_ALIASES)
