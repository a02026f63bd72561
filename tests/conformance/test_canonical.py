"""Canonical comparison: what must compare equal, and what must not."""

from __future__ import annotations

import pytest
from lxml import etree

from cimhub.conformance.canonical import canonical, diff, path_xpath

MSG = "http://iec.ch/TC57/2011/schema/message"
MRM = "http://iec.ch/TC57/2011/MeterReadingsMessage"
MR = "http://iec.ch/TC57/2011/MeterReadings#"


def reply(header: str = "", reply_body: str = "", payload: str = "", prefix: str = "msg") -> bytes:
    return (
        f'<MeterReadingsResponseMessage xmlns="{MRM}" xmlns:{prefix}="{MSG}">'
        f"<Header><{prefix}:Verb>reply</{prefix}:Verb>{header}</Header>"
        f"<Reply><{prefix}:Result>OK</{prefix}:Result>{reply_body}</Reply>{payload}"
        "</MeterReadingsResponseMessage>"
    ).encode()


def same(a: bytes, b: bytes, mask: tuple[str, ...] = (), ignore: tuple[str, ...] = ()) -> bool:
    return canonical(etree.fromstring(a), mask, ignore) == canonical(
        etree.fromstring(b), mask, ignore
    )


def test_prefixes_and_whitespace_do_not_matter() -> None:
    pretty = reply(prefix="msg").replace(b"<Header>", b"<Header>\n    ")
    assert same(pretty, reply(prefix="ns0"))


def test_instants_compare_in_utc_and_decimals_in_their_shortest_form() -> None:
    ist = f'<Payload><MeterReadings xmlns="{MR}"><value>0.4120</value>' \
          "<timeStamp>2024-06-15T00:15:00+05:30</timeStamp></MeterReadings></Payload>"  # fmt: skip
    utc = f'<Payload><MeterReadings xmlns="{MR}"><value>0.412</value>' \
          "<timeStamp>2024-06-14T18:45:00Z</timeStamp></MeterReadings></Payload>"  # fmt: skip
    assert same(reply(payload=ist), reply(payload=utc))
    other = utc.replace("0.412", "0.413")
    assert not same(reply(payload=ist), reply(payload=other))


def test_a_masked_element_may_hold_anything_but_must_be_there() -> None:
    a = reply(header="<msg:Timestamp>2026-01-01T00:00:00Z</msg:Timestamp>")
    b = reply(header="<msg:Timestamp>2027-05-05T10:00:00Z</msg:Timestamp>")
    assert same(a, b, mask=("Header/Timestamp",))
    assert not same(a, reply(), mask=("Header/Timestamp",))


def test_an_ignored_element_may_be_absent() -> None:
    with_reason = reply(reply_body="<msg:Error><msg:code>0.0</msg:code>"
                                   "<msg:reason>8 stored</msg:reason></msg:Error>")  # fmt: skip
    without = reply(reply_body="<msg:Error><msg:code>0.0</msg:code></msg:Error>")
    assert same(with_reason, without, ignore=("Reply/Error/reason",))
    assert not same(with_reason, without)


def test_a_different_code_or_a_missing_correlation_id_shows_in_the_diff() -> None:
    a = reply(header="<msg:CorrelationID>x</msg:CorrelationID>",
              reply_body="<msg:Error><msg:code>2.15</msg:code></msg:Error>")  # fmt: skip
    b = reply(reply_body="<msg:Error><msg:code>2.32</msg:code></msg:Error>")
    text = diff(canonical(etree.fromstring(a)), canonical(etree.fromstring(b)))
    assert "-    <msg:CorrelationID>x</msg:CorrelationID>" in text
    assert "-      <msg:code>2.15</msg:code>" in text and "+      <msg:code>2.32</msg:code>" in text


@pytest.mark.parametrize(
    ("path", "xpath"),
    [
        ("Header/Timestamp", "//*[local-name()='Header']/*[local-name()='Timestamp']"),
        ("Payload//value", "//*[local-name()='Payload']//*[local-name()='value']"),
        (
            "Reply/ID/@kind",
            "//*[local-name()='Reply']/*[local-name()='ID']/@*[local-name()='kind']",
        ),
        (
            "Reply/Error[2]/code",
            "//*[local-name()='Reply']/*[local-name()='Error'][2]/*[local-name()='code']",
        ),
    ],
)
def test_paths_name_local_names_anywhere(path: str, xpath: str) -> None:
    assert path_xpath(path).path == xpath
