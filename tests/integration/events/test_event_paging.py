"""GetEndDeviceEvents pages a large result (0.1 … 0.2 with a continuation token), as
GetMeterReadings does: nothing dropped, nothing repeated, a foreign token refused."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.testing.events import Ev, created_end_device_events, get_end_device_events
from cimhub.testing.replies import ParsedReply

MSG = "http://iec.ch/TC57/2011/schema/message"
EDE = "http://iec.ch/TC57/2011/EndDeviceEvents#"
GEDM = "http://iec.ch/TC57/2011/GetEndDeviceEventsMessage"
LOAD = "3.8.261.139"


def _ask(hub: Hub, token: str | None) -> tuple[ParsedReply, list[str], str | None]:
    raw = get_end_device_events("M1")
    if token is not None:  # Request/Option continuation, as the readings pages take it
        root = etree.fromstring(raw)
        request = root.find(f"{{{GEDM}}}Request")
        option = etree.Element(f"{{{GEDM}}}Option")
        request.insert(0, option)  # Option comes before the query object
        etree.SubElement(option, f"{{{MSG}}}name").text = "continuation"
        etree.SubElement(option, f"{{{MSG}}}value").text = token
        raw = etree.tostring(root)
    body = hub.pipeline.process(Inbound(raw, "t1", "test")).body
    reply = ParsedReply.of(body)
    stamps = [e.text for e in etree.fromstring(body).iter(f"{{{EDE}}}createdDateTime")]
    ids = [i.text for i in etree.fromstring(body).iter(f"{{{MSG}}}ID")
           if i.get("idType") == "continuation"]  # fmt: skip
    return reply, stamps, ids[0] if ids else None


def test_a_large_result_comes_in_pages(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(page_size=20)
    events = [Ev("M1", f"2024-06-15T{h:02d}:{m:02d}:00Z", LOAD) for h in range(5) for m in
              range(0, 60, 5)]  # fmt: skip  # 60 events
    hub.pipeline.process(Inbound(created_end_device_events(events), "t1", "test"))
    pages, seen, token = [], [], None
    while True:
        reply, stamps, token = _ask(hub, token)
        pages.append((reply.result, reply.codes))
        seen += stamps
        if token is None:
            break
    assert pages == [("PARTIAL", ["0.1"]), ("PARTIAL", ["0.1"]), ("PARTIAL", ["0.2"])]
    assert len(seen) == 60 and len(set(seen)) == 60 and seen == sorted(seen)


def test_a_small_result_is_one_ok_reply(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(page_size=20)
    hub.pipeline.process(
        Inbound(created_end_device_events([Ev("M1", "2024-06-15T01:00:00Z", LOAD)]), "t1", "t")
    )
    reply, stamps, token = _ask(hub, None)
    assert (reply.result, reply.codes, len(stamps), token) == ("OK", ["0.0"], 1, None)


def test_a_token_the_hub_did_not_issue_is_refused(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub()
    hub.pipeline.process(
        Inbound(created_end_device_events([Ev("M1", "2024-06-15T01:00:00Z", LOAD)]), "t1", "t")
    )
    reply, _, _ = _ask(hub, "bm90LWEtdG9rZW4=")
    assert (reply.result, reply.codes) == ("FAILED", ["2.4"])  # an invalid query, as readings
