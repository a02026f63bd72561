"""Limits at the edge, over real HTTP: per-client rate (429 in each transport's terms),
body caps on every route, and secrets that never reach the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cimhub.endpoints.soap import envelope_bytes
from cimhub.settings import Settings
from cimhub.testing.databases import postgres_database, sqlite_url
from cimhub.testing.replies import ParsedReply
from cimhub.testing.security import JWT_SECRET, SECRET_KEY, provision
from cimhub.testing.server import running_hub
from cimhub.testing.tenancy import MESSAGES, TENANT_A, as_tenant

VALID = (MESSAGES / "MeterReadings/created-interval-15min-2meters.xml").read_bytes()
BURST = 3


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[str]:
    """A hub allowing each client 3 requests, then one per 100 s (loopback not exempt)."""
    settings = Settings(
        database_url=sqlite_url(tmp_path),
        rate_limit_per_second=0.01,
        rate_limit_burst=BURST,
        rate_limit_exempt=[],
        max_request_bytes=64 * 1024,
    )
    with running_hub(settings) as (_hub, base):
        yield base


def _spend(base: str) -> None:
    for _ in range(BURST):
        assert httpx.get(f"{base}/api/v1/tenants", headers=as_tenant(TENANT_A)).status_code == 200


def test_rest_over_the_rate_gets_429_problem_with_retry_after(strict: str) -> None:
    _spend(strict)
    response = httpx.get(f"{strict}/api/v1/tenants", headers=as_tenant(TENANT_A))
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "6.3"
    assert int(response.headers["Retry-After"]) >= 1
    assert httpx.get(f"{strict}/healthz").status_code == 200  # probes are never limited


def test_cim_over_the_rate_gets_a_coded_failed_reply(strict: str) -> None:
    _spend(strict)
    response = httpx.post(f"{strict}/cim", content=VALID, headers=as_tenant(TENANT_A))
    assert response.status_code == 429 and "Retry-After" in response.headers
    reply = ParsedReply.of(response.content)
    assert reply.result == "FAILED" and reply.codes == ["6.3"]


def test_soap_over_the_rate_gets_a_coded_fault(strict: str) -> None:
    _spend(strict)
    response = httpx.post(
        f"{strict}/soap/ReceiveMeterReadings",
        content=envelope_bytes(VALID),
        headers=as_tenant(TENANT_A),
    )
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert "<faultstring>6.3 " in response.text


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[str]:
    settings = Settings(database_url=sqlite_url(tmp_path), max_request_bytes=64 * 1024)
    with running_hub(settings) as (_hub, base):
        yield base


def test_rest_bodies_are_capped_declared_or_streamed(capped: str) -> None:
    url = f"{capped}/api/v1/subscriptions/big"
    big = b'{"noun": "MeterReadings", "address": "' + b"a" * 200_000 + b'"}'
    declared = httpx.put(url, content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and declared.json()["code"] == "1.3"
    streamed = httpx.put(
        url,
        content=iter([big[i : i + 8192] for i in range(0, len(big), 8192)]),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 413 and streamed.json()["code"] == "1.3"
    assert httpx.get(f"{capped}/api/v1/subscriptions").status_code == 200  # still up


@pytest.mark.postgres
def test_secrets_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    password, token = "hunter2-db-Secret", "s3cr3t-bearer-Token"
    caplog.set_level(logging.DEBUG)
    with postgres_database() as url:
        with_password = url.replace("postgres@", f"postgres:{password}@", 1)  # trust: ignored
        with running_hub(Settings(database_url=with_password)) as (hub, base):
            secret = {"Authorization": f"Bearer {token}", **as_tenant(TENANT_A)}
            httpx.get(f"{base}/api/v1/tenants", headers=secret)
            httpx.post(f"{base}/cim", content=VALID, headers=secret)
            httpx.post(f"{base}/cim", content=b"<not-xml", headers=secret)
            basic = httpx.get(f"{base}/api/v1/tenants", auth=("someone", password))
            assert basic.status_code in (200, 401)
            hub.database.dispose()
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records  # something was logged
    assert password not in logged
    assert token not in logged


def test_each_principal_has_its_own_rate_on_every_transport(tmp_path: Path) -> None:
    """Loopback addresses are exempt by default: what limits here is the credential."""
    url = sqlite_url(tmp_path)
    keys = provision(url)
    settings = Settings(
        database_url=url,
        jwt_secret=JWT_SECRET,
        secret_key=SECRET_KEY,
        rate_limit_per_second=0.01,
        rate_limit_burst=BURST,
    )
    with running_hub(settings) as (_hub, base):

        def get(key: str) -> httpx.Response:
            return httpx.get(f"{base}/api/v1/tenants", headers={"X-Api-Key": key})

        assert [get(keys["ro-a"]).status_code for _ in range(BURST)] == [200] * BURST
        limited = get(keys["ro-a"])
        assert limited.status_code == 429 and limited.json()["code"] == "6.3"
        assert get(keys["ro-b"]).status_code == 200  # another principal, its own bucket
        hes = {"X-Api-Key": keys["hes-a"]}
        answers = [httpx.post(f"{base}/cim", content=VALID, headers=hes) for _ in range(BURST)]
        assert [a.status_code for a in answers] == [200] * BURST
        refused = httpx.post(f"{base}/cim", content=VALID, headers=hes)
        assert refused.status_code == 429
        assert ParsedReply.of(refused.content).codes == ["6.3"]
