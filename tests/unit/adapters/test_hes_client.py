"""Reading a head-end's answer: a 61968-100 reply, a SOAP-wrapped one, or none."""

from __future__ import annotations

from cimhub.adapters.hes_client import HesAnswer, read_answer
from cimhub.message.reply import Outcome, ReplyError, Result, render_reply
from cimhub.simulator.hub_client import soap_wrap


def test_replies_plain_and_in_soap_are_read() -> None:
    ok = render_reply(None, Outcome(summary="1 command(s) queued"), noun="EndDeviceControls")
    assert read_answer(ok) == HesAnswer("OK", "0.0", "1 command(s) queued")
    failed = render_reply(
        None, Outcome(Result.FAILED, [ReplyError("2.15", "unknown meter M-1")]),
        noun="EndDeviceControls",
    )  # fmt: skip
    assert read_answer(soap_wrap(failed)) == HesAnswer("FAILED", "2.15", "unknown meter M-1")


def test_an_answer_that_is_no_reply_says_so() -> None:
    assert read_answer(b"<html>Not Found</html>").result == ""
    assert read_answer(b"not xml at all").reason == "not xml at all"
