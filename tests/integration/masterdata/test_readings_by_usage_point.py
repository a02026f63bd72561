"""GetMeterReadings by usage point follows the installation history (issue #4 defect).

Meter A stands at UP1 from 1 January and is replaced by meter B on 15 January; both meters
report every interval of the days around the change (A from its next site, B from its
store test bench). A get by UP1 for January returns A's readings up to the replacement and
B's after it, nothing else — in one reply and across continuation pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from cimhub.app import Hub
from cimhub.bus.pipeline import Inbound
from cimhub.domain.installation import KWH_REGISTER
from cimhub.settings import Settings
from cimhub.testing.masterdata import linkage, meter_config, usage_point_config
from cimhub.testing.messages import (
    KWH_15MIN,
    created_meter_readings,
    get_meter_readings,
    meter_mrid,
)
from cimhub.testing.replies import ParsedReply
from cimhub.testing.server import running_hub

TENANT = "discom"
A, B = 1, 2
INSTALLED = datetime(2026, 1, 1, tzinfo=UTC)
REPLACED = datetime(2026, 1, 15, tzinfo=UTC)
REPORTED_FROM = datetime(2026, 1, 13, tzinfo=UTC)  # both meters report 13–17 January
DAYS = 4
JANUARY = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
Send = Callable[[bytes], ParsedReply]
Readings = dict[tuple[str, str, int], float]


@pytest.fixture
def hub(database_url: str) -> Iterator[Hub]:
    hub = Hub.build(Settings(database_url=database_url, page_size=100))
    yield hub
    hub.close()


@pytest.fixture
def send(hub: Hub) -> Send:
    return lambda raw: ParsedReply.of(hub.pipeline.process(Inbound(raw, TENANT, "test")).body)


def ok(reply: ParsedReply) -> None:
    assert reply.result == "OK" and reply.codes[0] == "0.0", reply.reasons


def collect(send: Send, query: Callable[[str | None], bytes]) -> tuple[Readings, int]:
    """Every reading a paged get returns, and the number of pages (no reading twice)."""
    got: Readings = {}
    token, pages = None, 0
    while pages == 0 or token:
        page = send(query(token))
        assert page.result in ("OK", "PARTIAL"), page.reasons
        assert not got.keys() & page.readings().keys()
        got.update(page.readings())
        token, pages = page.continuation, pages + 1
    return got, pages


def by_usage_point(*, raw: bool = False) -> Callable[[str | None], bytes]:
    option = b"<Request><Option><msg:name>raw</msg:name><msg:value>true</msg:value></Option>"

    def query(token: str | None) -> bytes:
        body = get_meter_readings((), *JANUARY, usage_points=["UP1"], continuation=token)
        return body.replace(b"<Request>", option) if raw else body

    return query


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def replaced(send: Send) -> Readings:
    """A at UP1 from 1 January, B from 15 January; each meter's whole profile."""
    a, b = meter_mrid(A), meter_mrid(B)
    ok(send(meter_config("create", {"mrid": a, "stage": "inService"}, {"mrid": b})))
    ok(send(usage_point_config("create", {"mrid": "UP1"})))
    ok(send(linkage("create", a, "UP1", iso(INSTALLED))))
    ok(send(linkage("create", b, "UP1", iso(REPLACED), FinalReading=812.5, InitialReading=3)))
    for meter in (A, B):
        ok(send(created_meter_readings([meter], REPORTED_FROM, DAYS * 96)))
    everything, _ = collect(send, lambda t: get_meter_readings([a, b], *JANUARY, continuation=t))
    # the profiles, and the replacement's two register reads (validated on arrival)
    assert len(everything) == 2 * DAYS * 96 + 2
    return {k: v for k, v in everything.items() if k[1] == KWH_15MIN}


def in_stay(key: tuple[str, str, int]) -> bool:
    mrid, _, ts = key
    cut = int(REPLACED.timestamp())
    return ts <= cut if mrid == meter_mrid(A) else ts > cut


def test_a_usage_point_returns_each_meter_only_inside_its_stay(
    send: Send, replaced: Readings
) -> None:
    got, pages = collect(send, by_usage_point())
    assert pages > 2  # the pages cross the replacement
    got = {k: v for k, v in got.items() if k[1] == KWH_15MIN}
    assert got == {k: v for k, v in replaced.items() if in_stay(k)}
    cut = int(REPLACED.timestamp())
    assert max(ts for m, _, ts in got if m == meter_mrid(A)) == cut
    assert min(ts for m, _, ts in got if m == meter_mrid(B)) == cut + 900


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "validated"])
def test_the_replacement_reads_belong_to_both_stays(
    send: Send, replaced: Readings, raw: bool
) -> None:
    """A's final read and B's initial read, both at the replacement instant, come with the
    usage point, raw and validated (VEE validates them when the linkage stores them)."""
    got, _ = collect(send, by_usage_point(raw=raw))
    cut = int(REPLACED.timestamp())
    assert got[(meter_mrid(A), KWH_REGISTER, cut)] == 812.5
    assert got[(meter_mrid(B), KWH_REGISTER, cut)] == 3.0
    assert {k for k in got if k[1] == KWH_15MIN} == {k for k in replaced if in_stay(k)}


def test_rest_validated_data_of_a_usage_point_follows_the_stays(
    database_url: str, replaced: Readings
) -> None:
    period = {"tenant": TENANT, "usage_point": "UP1"}
    period |= {"start": int(JANUARY[0].timestamp()), "end": int(JANUARY[1].timestamp())}
    with (
        running_hub(Settings(database_url=database_url)) as (_, base),
        httpx.Client(base_url=f"{base}/api/v1/billing", timeout=10) as client,
    ):
        data = client.get("/validated-data", params=period).json()
    got = {(s["meter"], s["reading_type"], ts) for s in data["series"] for ts in s["timestamps"]}
    assert got == {k for k in replaced if in_stay(k)}
