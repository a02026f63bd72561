"""POST /cim, health and readiness over real HTTP; hostile input never takes the hub down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cimhub.app import Hub
from cimhub.testing.messages import created_meter_readings, get_meter_readings, meter_mrid
from cimhub.testing.replies import ParsedReply

DAY = datetime(2026, 11, 20, tzinfo=UTC)
XML = {"Content-Type": "application/xml"}
XXE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {c} "{("&" + p + ";") * 10}">'.encode()
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + b"]><l>&i;</l>"
)


def test_post_cim_round_trip(live: tuple[Hub, str]) -> None:
    _, base = live
    posted = httpx.post(f"{base}/cim", content=created_meter_readings([1, 2], DAY, 96), headers=XML)
    assert posted.status_code == 200
    assert posted.headers["content-type"].startswith("application/xml")
    assert ParsedReply.of(posted.content).result == "OK"
    got = httpx.post(
        f"{base}/cim",
        content=get_meter_readings([meter_mrid(2)], DAY, DAY + timedelta(days=1)),
        headers=XML,
    )
    assert len(ParsedReply.of(got.content).readings()) == 96


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"<a><b></a>", 400, "1.1"),
        (XXE, 400, "1.2"),
        (LAUGHS, 400, "1.2"),
        (b"<a>" * 10_000 + b"</a>" * 10_000, 400, None),  # 1.4 (ours) or 1.1 (libxml2's own cap)
        (b'<x:Foo xmlns:x="http://example.com/NotCIM"/>', 400, "1.5"),
        (b"\xff\xfe<a>\x00</a>", 400, "1.1"),
    ],
    ids=["malformed", "xxe", "laughs", "deep", "unknown-ns", "bad-utf8"],
)
def test_hostile_input_gets_a_coded_reply_and_the_hub_keeps_serving(
    live: tuple[Hub, str], body: bytes, status: int, code: str | None
) -> None:
    _, base = live
    answer = httpx.post(f"{base}/cim", content=body, headers=XML)
    assert answer.status_code == status
    reply = ParsedReply.of(answer.content)
    assert reply.result == "FAILED"
    assert reply.codes[0] == code if code else reply.codes[0] in ("1.1", "1.4")
    assert httpx.get(f"{base}/healthz").status_code == 200


def test_a_streamed_body_over_the_limit_is_cut_off_with_413(live: tuple[Hub, str]) -> None:
    _, base = live

    def chunks():  # no Content-Length: the server must count as it reads
        for _ in range(100):
            yield b"<a>" + b"x" * 100_000

    answer = httpx.post(f"{base}/cim", content=chunks(), headers=XML)
    assert answer.status_code == 413
    assert ParsedReply.of(answer.content).codes == ["1.3"]


def test_health_and_readiness(live: tuple[Hub, str]) -> None:
    _, base = live
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_the_openapi_document_says_how_to_authenticate(tmp_path: Path) -> None:
    from cimhub.settings import Settings

    hub = Hub.build(Settings(database_url=f"sqlite:///{tmp_path}/x.db"))
    try:
        spec = hub.web_app().openapi()
    finally:
        hub.close()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["apiKey"] == {**schemes["apiKey"], "in": "header", "name": "X-Api-Key"}
    assert {schemes["bearer"]["scheme"], schemes["basic"]["scheme"]} == {"bearer", "basic"}
    paths = spec["paths"]
    assert schemes["session"] == {**schemes["session"], "in": "cookie", "name": "cimhub_session"}
    credential = [{"apiKey": []}, {"bearer": []}, {"basic": []}, {"session": []}]
    assert paths["/cim"]["post"]["security"] == credential
    assert paths["/api/v1/tenants"]["get"]["security"] == credential
    assert "security" not in paths["/healthz"]["get"]  # probes and WSDLs stay open
    assert "security" not in paths["/soap/{service}"]["get"]
    assert paths["/api/v1/auth/login"]["post"]["security"] == []  # the body holds them
    assert paths["/api/v1/auth/logout"]["post"]["security"] == credential
