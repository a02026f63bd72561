"""X.509 client certificates as credentials, over real TLS handshakes: a head-end or a
billing system authenticates by its certificate alone (bound by fingerprint or subject),
with its credential's tenant and role; unbound, foreign-CA and missing certificates are
refused; behind a reverse proxy the certificate header counts only from the proxy."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from cimhub.cli import main
from cimhub.endpoints.soap import envelope_bytes
from cimhub.settings import Settings
from cimhub.testing.certificates import Authority, Issued
from cimhub.testing.messages import created_meter_readings, get_meter_readings, meter_mrid
from cimhub.testing.replies import ParsedReply
from cimhub.testing.security import provision
from cimhub.testing.server import running_https_hub, running_hub

DAY = datetime(2026, 11, 20, tzinfo=UTC)
XML = {"Content-Type": "application/xml"}


@dataclass
class Pki:
    ca: Authority
    server: Issued
    hes: Issued  # bound to hes-a by its fingerprint
    billing: Issued  # bound to ro-a by its subject
    stranger: Issued  # issued by the CA, bound to nothing
    rogue: Issued  # from another CA
    keys: dict[str, str]


@pytest.fixture
def pki(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pki:
    keys = provision(database_url)
    ca = Authority(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    made = Pki(
        ca,
        ca.server(),
        ca.client("hes-a"),
        ca.client("billing-a"),
        ca.client("stranger"),
        Authority(other, "rogue CA").client("hes-a"),
        keys,
    )
    monkeypatch.setenv("CIMHUB_DATABASE_URL", database_url)
    hes, ro = (keys[n].split(".")[0] for n in ("hes-a", "ro-a"))
    assert main(["credential", "certificate", hes, "--cert", str(made.hes.cert)]) == 0
    assert main(["credential", "certificate", ro, "--subject", made.billing.subject]) == 0
    return made


@pytest.fixture
def https(pki: Pki, database_url: str) -> Iterator[str]:
    """The hub terminating TLS itself, asking clients for certificates from the CA."""
    settings = Settings(
        database_url=database_url,
        tls_cert_file=str(pki.server.cert),
        tls_key_file=str(pki.server.key),
        tls_client_ca_file=str(pki.ca.cert),
    )
    with running_https_hub(settings) as (_hub, port):
        yield f"https://127.0.0.1:{port}"


def client(pki: Pki, issued: Issued | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    if issued is not None:
        context.load_cert_chain(issued.cert, issued.key)
    return httpx.Client(verify=context, timeout=10)


def stored(base: str, pki: Pki, meter: int) -> int:
    query = get_meter_readings([meter_mrid(meter)], DAY, DAY + timedelta(days=1))
    with client(pki, None) as c:
        reply = c.post(f"{base}/cim", content=query, headers={**XML, "X-Api-Key": pki.keys["ro-a"]})
    assert reply.status_code == 200, reply.text
    return len(ParsedReply.of(reply.content).readings())


def test_a_head_end_authenticates_by_its_certificate_alone(https: str, pki: Pki) -> None:
    with client(pki, pki.hes) as hes:
        reply = hes.post(f"{https}/cim", content=created_meter_readings([1], DAY, 4), headers=XML)
        assert reply.status_code == 200, reply.text
        soap = envelope_bytes(created_meter_readings([2], DAY, 4))
        reply = hes.post(
            f"{https}/soap/ReceiveMeterReadings",
            content=soap,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        assert reply.status_code == 200, reply.text
        query = get_meter_readings([meter_mrid(1)], DAY, DAY + timedelta(days=1))
        refused = hes.post(f"{https}/cim", content=query, headers=XML)  # a HES may not read
        assert refused.status_code == 403 and b"6.2" in refused.content
    assert stored(https, pki, 1) == 4 and stored(https, pki, 2) == 4  # in the tenant of hes-a


def test_a_subject_binding_carries_its_credentials_tenant_and_role(https: str, pki: Pki) -> None:
    with client(pki, pki.billing) as billing:
        assert billing.get(f"{https}/api/v1/tenants/a").status_code == 200
        assert billing.get(f"{https}/api/v1/tenants/b").status_code == 404  # bound to a
        write = billing.post(
            f"{https}/cim", content=created_meter_readings([1], DAY, 4), headers=XML
        )
        assert write.status_code == 403  # read-only


@pytest.mark.parametrize("who", ["stranger", None], ids=["unbound-certificate", "none"])
def test_unbound_or_missing_certificates_are_refused(https: str, pki: Pki, who: str | None) -> None:
    with client(pki, getattr(pki, who) if who else None) as c:
        reply = c.get(f"{https}/api/v1/tenants/a")
    assert reply.status_code == 401 and reply.json()["code"] == "6.1"


def test_a_certificate_from_another_ca_fails_the_handshake(https: str, pki: Pki) -> None:
    with client(pki, pki.rogue) as c, pytest.raises(httpx.TransportError):
        c.get(f"{https}/api/v1/tenants/a")


def test_a_revoked_credential_s_certificate_is_refused(https: str, pki: Pki) -> None:
    assert main(["credential", "revoke", pki.keys["hes-a"].split(".")[0]]) == 0
    with client(pki, pki.hes) as hes:
        reply = hes.post(f"{https}/cim", content=created_meter_readings([1], DAY, 4), headers=XML)
    assert reply.status_code == 401


def test_behind_a_proxy_the_header_counts_only_from_the_proxy(pki: Pki, database_url: str) -> None:
    forwarded = {"X-Client-Cert": quote(pki.hes.cert.read_text()), **XML}
    rogue = {"X-Client-Cert": quote(pki.rogue.cert.read_text()), **XML}
    body = created_meter_readings([3], DAY, 4)
    trusting = Settings(
        database_url=database_url,
        tls_client_cert_proxies=["127.0.0.1/32"],
        tls_client_ca_file=str(pki.ca.cert),
    )
    with running_hub(trusting) as (_hub, base):
        assert httpx.post(f"{base}/cim", content=body, headers=forwarded).status_code == 200
        assert httpx.post(f"{base}/cim", content=body, headers=rogue).status_code == 401
    elsewhere = Settings(database_url=database_url, tls_client_cert_proxies=["10.9.9.9/32"])
    with running_hub(elsewhere) as (_hub, base):  # loopback is not the proxy: header ignored
        assert httpx.post(f"{base}/cim", content=body, headers=forwarded).status_code == 401


def test_the_cli_binds_and_unbinds_certificates(pki: Pki) -> None:
    hes = pki.keys["hes-a"].split(".")[0]
    ro = pki.keys["ro-a"].split(".")[0]
    assert main(["credential", "certificate", ro, "--cert", str(pki.hes.cert)]) == 1  # taken
    assert main(["credential", "certificate", hes, "--remove"]) == 0
    assert main(["credential", "certificate", ro, "--cert", str(pki.hes.cert)]) == 0
    assert main(["credential", "certificate", "ck_000000000000", "--subject", "CN=x"]) == 1
