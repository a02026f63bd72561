"""Helpers for bus tests, ours and integrators': fast settings, a worker in a thread,
async-reply requests, readings announced in events."""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

from cimhub.app import Hub
from cimhub.mappings.timestamp import to_epoch
from cimhub.settings import Settings
from cimhub.testing.replies import ParsedReply

MSG = "http://iec.ch/TC57/2011/schema/message"
MR = "http://iec.ch/TC57/2011/MeterReadings#"

#: Short delays so retries, relays and waits take milliseconds in tests.
FAST: dict[str, Any] = {
    "retry_backoff_seconds": 0.05,
    "retry_backoff_max_seconds": 0.2,
    "relay_interval_seconds": 0.1,
    "worker_batch_wait_ms": 5,
    "publish_retry_seconds": 20,
}


class ThreadWorker:
    """`cimhub worker` in a thread of the calling process."""

    def __init__(self, settings: Settings) -> None:
        self.hub = Hub.build(settings, serve=False)
        self.stop = threading.Event()
        assert self.hub.bus is not None
        self.thread = threading.Thread(
            target=self.hub.bus.run_worker, args=(self.stop,), name="test-worker", daemon=True
        )
        self.thread.start()
        from cimhub.bus import topology
        from cimhub.testing.waiting import wait_until

        broker = self.hub.bus.broker
        try:
            wait_until(
                lambda: broker.depths([topology.INBOUND]).get(topology.INBOUND, (0, 0))[1], 20
            )
        except BaseException:
            self.close()  # a worker that never consumed still has a hub to close
            raise

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.hub.close()


def with_async_reply(raw: bytes, address: str) -> bytes:
    """The same message asking for its reply at ``address`` (AsyncReplyFlag + ReplyAddress)."""
    root = etree.fromstring(raw)
    header = root.find("{*}Header")
    before = ("Source", "Timestamp", "Context", "ReplayDetection", "Revision", "Noun")
    anchor = next(e for n in before if (e := header.find(f"{{{MSG}}}{n}")) is not None)
    flag = etree.Element(f"{{{MSG}}}AsyncReplyFlag")
    flag.text = "true"
    reply = etree.Element(f"{{{MSG}}}ReplyAddress")
    reply.text = address
    anchor.addnext(flag)
    flag.addnext(reply)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def readings_in(bodies: list[bytes]) -> list[tuple[str, str, int]]:
    """(meter mRID, reading type, epoch) of every reading in these messages, repeats kept."""
    found: list[tuple[str, str, int]] = []
    for body in bodies:
        found.extend(ParsedReply.of(body).readings())
    return found


def qualified_in(bodies: list[bytes]) -> dict[tuple[str, str, int], tuple[float, str]]:
    """(meter mRID, reading type, epoch) → (value, ReadingQuality codes joined by spaces)
    of every reading in these messages (a later message's reading wins)."""
    found: dict[tuple[str, str, int], tuple[float, str]] = {}
    for body in bodies:
        root = etree.fromstring(body)
        for reading in root.iter(f"{{{MR}}}MeterReading"):
            mrid = reading.findtext(f"{{{MR}}}Meter/{{{MR}}}mRID") or ""
            for block in reading.iter(f"{{{MR}}}IntervalBlocks"):
                code = block.find(f"{{{MR}}}ReadingType").get("ref")  # type: ignore[union-attr]
                for point in block.iter(f"{{{MR}}}IntervalReadings"):
                    stamp = to_epoch(point.findtext(f"{{{MR}}}timeStamp") or "")
                    qualities = " ".join(
                        q.get("ref") or "" for q in point.iter(f"{{{MR}}}ReadingQualityType")
                    )
                    value = float(point.findtext(f"{{{MR}}}value") or "nan")
                    found[(mrid, code or "", stamp)] = (value, qualities)
    return found
