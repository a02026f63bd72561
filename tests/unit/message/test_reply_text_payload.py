"""A reply's payload given as XML text is carried as is: the same reply as its element."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from lxml import etree

from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.mappings.meter_readings import SeriesOut, meter_readings_text, write_meter_readings
from cimhub.message.envelope import read_envelope
from cimhub.message.reply import Outcome, Result, render_reply
from cimhub.testing.messages import get_meter_readings

METERS = [
    (
        MeterRef('M<&1"é', ("n&1", "मीटर")),
        [
            SeriesOut(
                "kwh<",
                ReadingKind.INTERVAL,
                [1767225600, 1767226500],
                [1.5, 0.1],
                ["", "2.8.0 1.4.5"],
            ),
            SeriesOut("reg", ReadingKind.REGISTER, [1767225600], [12345.0], ["1.0.0"]),
        ],
    ),
    (MeterRef("M2"), [SeriesOut("kwh<", ReadingKind.INTERVAL, [1767225600], [3e-7], [""])]),
]
JAN = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


def _fixed(body: bytes) -> bytes:
    """The reply without what differs between any two replies (its ID and time)."""
    return re.sub(rb"<(msg:)?(MessageID|Timestamp)>[^<]*<", rb"<\2><", body)


@pytest.mark.parametrize("strong", [False, True])
@pytest.mark.parametrize("paged", [False, True])
def test_a_text_payload_makes_the_same_reply_as_its_element(strong: bool, paged: bool) -> None:
    request = None if strong else read_envelope(etree.fromstring(get_meter_readings(["M"], *JAN)))
    shape = {"noun": "MeterReadings", "strong": True} if strong else {}
    page = {"result": Result.PARTIAL, "code": "0.1", "continuation": "t"} if paged else {}
    tree = render_reply(request, Outcome(payload=write_meter_readings(METERS), **page), **shape)
    text = render_reply(request, Outcome(payload=meter_readings_text(METERS), **page), **shape)
    assert _fixed(text) == _fixed(tree)
    payload = etree.fromstring(text).find("{*}Payload")
    assert payload is not None and len(payload) == 1
