"""The runner's reply listener: a case expecting an asynchronous reply passes only when
the endpoint POSTs the right ResponseMessage to the ReplyAddress it was given."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx
import pytest

from cimhub.conformance.case import Role
from cimhub.conformance.loader import load_cases
from cimhub.conformance.observed import Observed, parse_untrusted
from cimhub.conformance.runner import Options, Runner, Status
from cimhub.conformance.transport import Route, Target
from cimhub.message import parser
from cimhub.message.envelope import read_envelope
from cimhub.message.reply import Outcome, ReplyError, Result, render_reply

CASE = """title = "async"
use_cases = ["1.3"]
[expect]
result = "OK"
codes = ["0.3"]
async_wait = 2
[expect.async_reply]
result = "OK"
codes = ["0.0"]
"""
REQUEST = """<?xml version="1.0" encoding="UTF-8"?>
<CreatedMeterReadings xmlns="http://iec.ch/TC57/2011/MeterReadingsMessage"
                      xmlns:msg="http://iec.ch/TC57/2011/schema/message"
                      xmlns:m="http://iec.ch/TC57/2011/MeterReadings#">
  <Header>
    <msg:Verb>created</msg:Verb><msg:Noun>MeterReadings</msg:Noun>
    <msg:Timestamp>2024-06-15T01:07:42+05:30</msg:Timestamp>
    <msg:Source>HES-CONF</msg:Source>
    <msg:AsyncReplyFlag>true</msg:AsyncReplyFlag>
    <msg:ReplyAddress>{{REPLY_ADDRESS}}</msg:ReplyAddress>
    <msg:MessageID>conf-{{RUN}}-async</msg:MessageID>
  </Header>
  <Payload><m:MeterReadings><m:MeterReading>
    <m:IntervalBlocks>
      <m:IntervalReadings><m:timeStamp>2024-06-15T00:15:00+05:30</m:timeStamp>
        <m:value>0.55</m:value></m:IntervalReadings>
      <m:ReadingType ref="0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0"/>
    </m:IntervalBlocks>
    <m:Meter><m:mRID>M1</m:mRID></m:Meter>
  </m:MeterReading></m:MeterReadings></Payload>
</CreatedMeterReadings>
"""


class AsyncEndpoint:
    """Acknowledges with 0.3, then (in another thread) POSTs ``later`` to the ReplyAddress."""

    name = "http"

    def __init__(self, later: Outcome | None) -> None:
        self.later = later
        self.threads: list[threading.Thread] = []

    def send(self, body: bytes, route: Route, *, as_is: bool = False) -> Observed:
        envelope = read_envelope(parser.parse(body, parser.Limits(1_000_000, 64)))
        ack = render_reply(envelope, Outcome(code="0.3", summary="accepted"))
        if self.later is not None:
            address = re.search(rb"<msg:ReplyAddress>([^<]+)<", body).group(1).decode()
            reply = render_reply(envelope, self.later)
            thread = threading.Thread(target=httpx.post, args=(address,), kwargs={"content": reply})
            thread.start()
            self.threads.append(thread)
        return Observed(status=200, body=ack, message=parse_untrusted(ack), sent=body)

    def close(self) -> None:
        for thread in self.threads:
            thread.join(5)


def run_case(tmp_path: Path, endpoint: AsyncEndpoint):  # type: ignore[no-untyped-def]
    folder = tmp_path / "mdm" / "MeterReadings" / "created" / "001-async"
    folder.mkdir(parents=True)
    (folder / "case.toml").write_text(CASE)
    (folder / "request.xml").write_text(REQUEST)
    suite = load_cases(tmp_path)
    case = next(c for c in suite.cases if c.id == "mdm/MeterReadings/created/001-async")
    options = Options(Role.MDM, "http", Target(("http://unused",)))
    return Runner(suite, options, transport=endpoint).run([case]).results[0]


def test_the_full_reply_at_the_reply_address_passes(tmp_path: Path) -> None:
    result = run_case(tmp_path, AsyncEndpoint(Outcome(summary="1 reading stored")))
    assert result.status is Status.PASSED, [p.text for p in result.problems]


def test_no_reply_at_the_reply_address_fails(tmp_path: Path) -> None:
    result = run_case(tmp_path, AsyncEndpoint(None))
    assert result.status is Status.FAILED
    assert "reached the ReplyAddress within 2 s" in result.problems[0].text


def test_a_wrong_full_reply_fails_naming_it(tmp_path: Path) -> None:
    failed = Outcome(Result.FAILED, [ReplyError("2.15", "unknown meter M1")])
    result = run_case(tmp_path, AsyncEndpoint(failed))
    assert result.status is Status.FAILED
    assert any("asynchronous reply: Result FAILED" in p.text for p in result.problems)


@pytest.mark.parametrize(
    "table", ['[expect.async_reply]\nresult = "MAYBE"', "[expect.async_reply]\nasync_reply = {}"]
)
def test_a_broken_async_expectation_is_refused(tmp_path: Path, table: str) -> None:
    from cimhub.conformance.case import CaseError

    folder = tmp_path / "mdm" / "MeterReadings" / "created" / "001-async"
    folder.mkdir(parents=True)
    (folder / "case.toml").write_text('title = "t"\nuse_cases = ["1.3"]\n' + table)
    (folder / "request.xml").write_text(REQUEST)
    with pytest.raises(CaseError):
        load_cases(tmp_path)
