"""Every way into POST /cim and the REST API authenticates, binds the tenant and checks RBAC."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cimhub.testing.messages import created_meter_readings, get_meter_readings, meter_mrid
from cimhub.testing.replies import ParsedReply
from cimhub.testing.security import PASSWORD, Secured

DAY = datetime(2026, 11, 20, tzinfo=UTC)
XML = {"Content-Type": "application/xml"}
# a loaded CI machine can take longer than httpx's 5 s default to answer a first request
TIMEOUT = 60


def post(secured: Secured, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{secured.base}/cim", content=body, headers={**XML, **headers}, timeout=TIMEOUT
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def readings_of(secured: Secured, key: str, meter: int = 1) -> int:
    query = get_meter_readings([meter_mrid(meter)], DAY, DAY + timedelta(days=1))
    reply = post(secured, query, **bearer(key))
    if reply.status_code == 400 and b"<msg:code>2.15<" in reply.content:
        return 0  # the tenant does not know the meter at all
    assert reply.status_code == 200, reply.text
    return len(ParsedReply.of(reply.content).readings())


def refused(reply: httpx.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    parsed = ParsedReply.of(reply.content)
    assert parsed.result == "FAILED"
    assert code in reply.text


def test_an_api_key_as_bearer_or_x_api_key_is_accepted_and_binds_its_tenant(
    secured: Secured,
) -> None:
    ok = post(secured, created_meter_readings([1], DAY, 4), **bearer(secured.keys["hes-a"]))
    assert ok.status_code == 200, ok.text
    ok = post(secured, created_meter_readings([2], DAY, 4), **{"X-Api-Key": secured.keys["hes-a"]})
    assert ok.status_code == 200, ok.text
    assert readings_of(secured, secured.keys["ro-a"], 1) == 4
    assert readings_of(secured, secured.keys["ro-b"], 1) == 0  # stored in a, not b


def test_a_tenant_header_cannot_override_the_credentials_tenant(secured: Secured) -> None:
    body = created_meter_readings([1], DAY, 4)
    reply = post(secured, body, **bearer(secured.keys["hes-a"]), **{"X-Cimhub-Tenant": "b"})
    refused(reply, 403, "6.2")
    assert readings_of(secured, secured.keys["ro-b"], 1) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer ck_000000000000.not-a-key"},
        {"X-Api-Key": "garbage"},
        {"Authorization": "Negotiate abc"},
        {"Authorization": "Basic " + base64.b64encode(b"asha:wrong password").decode()},
    ],
    ids=["none", "wrong-key", "garbage-key", "unknown-scheme", "wrong-password"],
)
def test_missing_or_wrong_credentials_get_401_and_code_6_1(
    secured: Secured, headers: dict[str, str]
) -> None:
    refused(post(secured, created_meter_readings([1], DAY, 4), **headers), 401, "6.1")


def test_a_wrong_key_with_a_real_prefix_is_refused(secured: Secured) -> None:
    prefix = secured.keys["hes-a"].split(".")[0]
    refused(post(secured, b"<x/>", **bearer(prefix + ".forged")), 401, "6.1")


def test_a_revoked_key_is_refused(secured: Secured) -> None:
    from cimhub.store.security import Security

    key = secured.keys["op-a"]
    assert post(secured, created_meter_readings([1], DAY, 4), **bearer(key)).status_code == 200
    with secured.hub.database.unit_of_work(hub=True) as uow:
        Security(uow).revoke_credential(key.split(".")[0], actor="test")
    refused(post(secured, created_meter_readings([1], DAY, 4), **bearer(key)), 401, "6.1")


def test_ip_allow_list(secured: Secured) -> None:
    body = created_meter_readings([1], DAY, 4)
    refused(post(secured, body, **bearer(secured.keys["far-hes"])), 401, "6.1")
    assert post(secured, body, **bearer(secured.keys["near-hes"])).status_code == 200


def test_a_jwt_bearer_token_is_accepted(secured: Secured) -> None:
    reply = post(secured, created_meter_readings([3], DAY, 4), **bearer(secured.token()))
    assert reply.status_code == 200, reply.text
    assert readings_of(secured, secured.keys["ro-a"], 3) == 4


@pytest.mark.parametrize(
    "claims",
    [{"exp": 1_000_000}, {"aud": "someone-else"}, {"tenant": "nowhere"}],
    ids=["expired", "wrong-audience", "unknown-tenant"],
)
def test_a_bad_jwt_is_refused(secured: Secured, claims: dict[str, object]) -> None:
    reply = post(secured, created_meter_readings([1], DAY, 4), **bearer(secured.token(**claims)))
    refused(reply, 401, "6.1")


def test_a_jwt_signed_with_another_key_is_refused(secured: Secured) -> None:
    import jwt

    forged = jwt.encode(
        {"sub": "x", "tenant": "a", "roles": ["administrator"], "aud": "cimhub", "exp": 2**31},
        "another-secret-entirely-of-length",
        algorithm="HS256",
    )
    refused(post(secured, b"<x/>", **bearer(forged)), 401, "6.1")


def test_read_only_may_query_but_not_write_on_cim(secured: Secured) -> None:
    reply = post(secured, created_meter_readings([1], DAY, 4), **bearer(secured.keys["ro-a"]))
    refused(reply, 403, "6.2")
    assert readings_of(secured, secured.keys["ro-a"], 1) == 0


def test_hes_may_not_edit_validated_readings(secured: Secured) -> None:
    body = (
        created_meter_readings([1], DAY, 4)
        .replace(b">created<", b">change<")
        .replace(b"CreatedMeterReadings", b"ChangeMeterReadings")
    )
    refused(post(secured, body, **bearer(secured.keys["hes-a"])), 403, "6.2")


def rest(secured: Secured, method: str, path: str, **headers: str) -> httpx.Response:
    return httpx.request(method, f"{secured.base}/api/v1{path}", headers=headers, timeout=TIMEOUT)


def test_rest_needs_credentials_and_answers_problem_json(secured: Secured) -> None:
    reply = rest(secured, "GET", "/tenants/a")
    assert reply.status_code == 401
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["code"] == "6.1"


def test_rest_read_allowed_for_read_only_in_its_own_tenant_only(secured: Secured) -> None:
    key = bearer(secured.keys["ro-a"])
    assert rest(secured, "GET", "/tenants/a", **key).status_code == 200
    other = rest(secured, "GET", "/tenants/b", **key)
    assert other.status_code == 404  # another tenant is unknown, never confirmed to exist


def test_rest_basic_auth_for_a_user(secured: Secured) -> None:
    login = base64.b64encode(f"asha:{PASSWORD}".encode()).decode()
    assert rest(secured, "GET", "/tenants/a", Authorization=f"Basic {login}").status_code == 200


def test_rest_write_refused_to_read_only_and_allowed_to_operator(secured: Secured) -> None:
    body = {"noun": "MeterReadings", "address": "http://127.0.0.1:9/cim"}
    url = f"{secured.base}/api/v1/subscriptions/billing"
    denied = httpx.put(url, json=body, headers=bearer(secured.keys["ro-a"]), timeout=TIMEOUT)
    assert denied.status_code == 403
    assert denied.json()["code"] == "6.2"
    allowed = httpx.put(url, json=body, headers=bearer(secured.keys["op-a"]), timeout=TIMEOUT)
    assert allowed.status_code == 200, allowed.text


def test_hes_may_not_read_rest(secured: Secured) -> None:
    reply = rest(secured, "GET", "/tenants/a", **bearer(secured.keys["hes-a"]))
    assert reply.status_code == 403


def test_authentication_is_audited_and_the_chain_holds(secured: Secured) -> None:
    from cimhub.store.security import Security

    post(secured, b"<x/>", **bearer("ck_000000000000.nope"))
    post(secured, created_meter_readings([1], DAY, 4), **bearer(secured.keys["hes-a"]))
    with secured.hub.database.unit_of_work(hub=True) as uow:
        audit = Security(uow).audit
        actions = [(e.action, e.actor) for e in audit.entries()]
        assert ("auth.failure", "ck_000000000000") in actions
        assert ("auth.login", "hes-a") in actions
        assert audit.verify() is None


def test_health_stays_open(secured: Secured) -> None:
    assert httpx.get(f"{secured.base}/healthz", timeout=TIMEOUT).status_code == 200


def test_anonymous_loopback_can_be_reopened_explicitly(database_url: str) -> None:
    from cimhub.settings import Settings
    from cimhub.testing.security import provision
    from cimhub.testing.server import running_hub

    provision(database_url)
    settings = Settings(database_url=database_url, allow_anonymous_loopback=True)
    with running_hub(settings) as (_, base):
        body = created_meter_readings([1], DAY, 4)
        reply = httpx.post(
            f"{base}/cim", content=body, headers={**XML, "X-Cimhub-Tenant": "b"}, timeout=TIMEOUT
        )
        assert reply.status_code == 200, reply.text
        assert ParsedReply.of(reply.content).result == "OK"
        # the hub's own operator (open loopback mode) may change the shared roles
        grant = f"{base}/api/v1/admin/roles/analyst/grants/rest.subscriptions.write"
        assert httpx.put(grant, timeout=TIMEOUT).status_code == 204
        roles = httpx.get(f"{base}/api/v1/admin/roles", timeout=TIMEOUT).json()
        assert "rest.subscriptions.write" in roles["analyst"]
        assert httpx.delete(grant.replace("write", "nope"), timeout=TIMEOUT).status_code == 404
