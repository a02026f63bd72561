"""The cross-tenant matrix: every REST route and every CIM noun × verb, sent as tenant A
against tenant B's identifiers, on each backend. No read returns B's data; no write
changes B's rows.

Routes come from the app's own OpenAPI document and messages from the registry, so a new
route or handler is driven automatically — or the test fails naming what it cannot drive.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from cimhub.app import Hub
from cimhub.bus.dead_letter import get_letter, list_letters, replay
from cimhub.bus.runtime import subscription_of
from cimhub.endpoints import soap
from cimhub.errors import UnknownObjectError
from cimhub.settings import Settings
from cimhub.testing.masterdata import seed_golden
from cimhub.testing.messages import created_meter_readings
from cimhub.testing.server import running_hub
from cimhub.testing.tenancy import (
    MESSAGES,
    TENANT_A,
    TENANT_B,
    as_tenant,
    provision_admins,
    rows_of,
    seed_tenant,
    sender,
    settled,
)

INDEX = tomllib.loads((MESSAGES / "index.toml").read_text(encoding="utf-8"))["message"]
#: What tenant B holds beyond the common golden data: a command and a subscription.
B_EXTRA = ("seeds/meters-controls.csv", "EndDeviceControls/create-disconnect-one-meter.xml")
B_SUBSCRIPTION = "tenant-b-billing"
#: Routes that carry no tenant's data by design, and the CIM endpoints (driven below).
NOT_TENANT_DATA = {"/healthz", "/readyz", "/soap", "/soap/xsd/{name}", "/soap/{service}"}
CIM_ROUTES = {("POST", "/cim"), ("POST", "/soap/{service}")}
#: A verb without a golden message of its own borrows a related one's (verb rewritten).
RELATED = {
    "canceled": "cancel", "changed": "change", "closed": "close", "created": "create",
    "deleted": "delete", "change": "changed", "create": "created", "cancel": "create",
}  # fmt: skip


@dataclass
class Served:
    hub: Hub
    client: httpx.Client
    keys: dict[str, str]


@dataclass
class Probe:
    """Everything sent as A, and B's data it must never see."""

    fingerprint: set[str]
    sent: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    answered: int = 0  # 2xx answers: the requests were let in, not just refused

    def check(self, what: str, request: str, response: str) -> None:
        self.sent.append(request)
        told = "\n".join(self.sent)  # what A said itself is not a leak
        leaked = sorted(s for s in self.fingerprint if s in response and s not in told)
        if leaked:
            self.leaks.append(f"{what}: {leaked[:5]}")


@pytest.fixture(params=["header", "credentials"])
def served(request: pytest.FixtureRequest, database_url: str) -> Iterator[Served]:
    """The hub, a client, and the keys tenants authenticate with (none: open loopback mode,
    the tenant header names the tenant)."""
    # B's async reply and subscription events go to addresses that never answer; one
    # attempt each lets them finish (dead-lettered) before the matrix takes its snapshot.
    settings = Settings(database_url=database_url, retry_max_attempts=1)
    with running_hub(settings) as (hub, base):
        seed_tenant(hub, TENANT_B)
        for name in B_EXTRA:
            seed_golden(hub, TENANT_B, MESSAGES / name, sender(hub))  # type: ignore[arg-type]
        hub.bus.put_subscription(  # type: ignore[union-attr]
            subscription_of(
                {
                    "name": B_SUBSCRIPTION,
                    "noun": "MeterReadings",
                    "tenant": TENANT_B,
                    "address": "http://127.0.0.1:9/tenant-b",
                }
            )
        )
        # A has data of its own, none of it B's.
        raw = created_meter_readings([9001], datetime(2024, 6, 1, tzinfo=UTC), intervals=4)
        assert sender(hub)(raw, TENANT_A).result.value == "OK"
        keys = {}
        if request.param == "credentials":
            keys = provision_admins(hub.database, TENANT_A, TENANT_B)
            _user_with_a_session(hub, TENANT_B)  # (a user would end open loopback mode)
        settled(hub)
        with httpx.Client(base_url=base, timeout=60) as client:
            yield Served(hub, client, keys)


def _user_with_a_session(hub: Hub, tenant: str) -> None:
    """A user of ``tenant`` logged in: a live session for A to reach for."""
    from cimhub.store.security import Security
    from cimhub.testing.security import PASSWORD

    with hub.database.unit_of_work(hub=True) as uow:
        Security(uow).create_user(tenant, f"user-of-{tenant}", PASSWORD, ["operator"], actor="t")
    authenticator = hub.web_app().state.authenticator
    member = authenticator.logins.password(f"user-of-{tenant}", PASSWORD, None, tenant)
    assert member is not None
    authenticator.logins.open(member, "127.0.0.1")


def _b_identifiers(hub: Hub) -> dict[str, list[str]]:
    """B's identifiers by kind, read hub-wide."""
    with hub.database.engine.connect() as c:
        b = c.execute(text("SELECT id FROM tenant WHERE code = :c"), {"c": TENANT_B}).scalar()

        def col(sql: str) -> list[str]:
            return [str(r[0]) for r in c.execute(text(sql), {"b": b}) if r[0]]

        return {
            "meter": col("SELECT mrid FROM meter WHERE tenant_id = :b ORDER BY id"),
            "serial": col("SELECT serial_number FROM meter WHERE tenant_id = :b ORDER BY id"),
            "usage_point": col("SELECT mrid FROM usage_point WHERE tenant_id = :b ORDER BY id"),
            "node": col("SELECT code FROM hierarchy_node WHERE tenant_id = :b ORDER BY id"),
            "command": _optional(c, "SELECT mrid FROM end_device_control WHERE tenant_id = :b", b),
            "finding": col("SELECT id FROM vee_finding WHERE tenant_id = :b ORDER BY id"),
            "reading": [
                f"{r[0]}|{r[1]}"
                for r in c.execute(
                    text(
                        "SELECT t.code, r.ts FROM interval_reading r JOIN reading_type t "
                        "ON t.id = r.reading_type_id WHERE r.tenant_id = :b ORDER BY r.ts LIMIT 1"
                    ),
                    {"b": b},
                )
            ],
            "credential": _optional(c, "SELECT prefix FROM credential WHERE tenant_id = :b", b),
            "session": _optional(c, "SELECT public_id FROM login_session WHERE tenant_id = :b", b),
            "user": _optional(c, "SELECT name FROM hub_user WHERE tenant_id = :b", b),
        }


def _optional(connection: Any, sql: str, b: int) -> list[str]:
    """Identifiers from a table this build may not have."""
    try:
        with connection.begin_nested():
            return [str(r[0]) for r in connection.execute(text(sql), {"b": b})]
    except Exception:
        return []


def _fingerprint(hub: Hub) -> set[str]:
    """Distinctive strings of B's data (4+ characters), minus any A also holds."""
    found: set[str] = set()
    queries = [
        "SELECT mrid, serial_number, make, model FROM meter",
        "SELECT name FROM meter_name",
        "SELECT mrid, consumer_number, name, address, mobile, email FROM usage_point",
        "SELECT code, name FROM hierarchy_node",
    ]
    with hub.database.engine.connect() as c:
        ids = dict(c.execute(text("SELECT code, id FROM tenant")).all())
        for sql in queries:
            for tenant, sign in ((ids[TENANT_B], 1), (ids[TENANT_A], -1)):
                rows = c.execute(text(f"{sql} WHERE tenant_id = :t"), {"t": tenant})
                values = {str(v) for r in rows for v in r if v is not None and len(str(v)) >= 4}
                found = found | values if sign > 0 else found - values
        b_credentials = _optional(
            c, "SELECT name FROM credential WHERE tenant_id = :b", ids[TENANT_B]
        )
        found |= {n for n in b_credentials if n != "admin-" + TENANT_A}
        for sql in ("SELECT public_id FROM login_session", "SELECT name FROM hub_user"):
            found |= set(_optional(c, f"{sql} WHERE tenant_id = :b", ids[TENANT_B]))
        subscriptions = c.execute(
            text("SELECT name, address FROM subscription WHERE tenant = :t"), {"t": TENANT_B}
        )
        found |= {str(v) for r in subscriptions for v in r}
    return found


def _routes(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    spec = app.openapi()
    return [
        (method.upper(), path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _values(name: str, path: str, ids: dict[str, list[str]]) -> list[str] | None:
    """B's identifiers to put in parameter ``name`` of ``path`` (None: no idea)."""
    if name == "tenant":
        return [TENANT_B, TENANT_A]
    if name == "key":
        if "/usage-points/" in path:
            return ids["usage_point"][:2]
        return ids["meter"][:2] + ids["serial"][:1]
    if name == "usage_point":
        return ids["usage_point"][:1]
    if name == "code":
        return ids["node"][:2]
    if name == "mrid":
        return ids["command"][:1] or ["no-command"]
    if name == "name" and path.startswith("/api/v1/subscriptions"):
        return [B_SUBSCRIPTION]
    if name == "name" and path.startswith("/api/v1/admin/users"):
        return ids["user"][:1] or ["no-user"]
    if name == "session_id":
        return ids["session"][:1] or ["cs_nothere"]
    if name == "name":
        return ["MeterReadings.xsd"]
    if name == "service":
        return ["GetMeterReadings"]
    if name == "finding_id":
        return ids["finding"][:2] or ["1"]
    if name == "exception_id":  # B's exceptions, when its seed made any, else the first ids
        return ids.get("exception", [])[:2] or ["1", "2"]
    if name == "reading_type":
        return [r.split("|")[0] for r in ids["reading"][:1]]
    if name == "ts":
        return [r.split("|")[1] for r in ids["reading"][:1]]
    if name == "prefix":
        return ids["credential"][:1] or ["ck_nothere"]
    if name == "role":
        return ["operator"]
    if name == "permission":
        return ["MeterReadings.get"]
    return None


def _requests(
    method: str, path: str, operation: dict[str, Any], ids: dict[str, list[str]]
) -> list[tuple[str, dict[str, str]]] | str:
    """(url, query) variants of one operation, or why it cannot be driven."""
    variants: list[tuple[str, dict[str, str]]] = [(path, {})]
    for param in operation.get("parameters", []):
        name, where = param["name"], param["in"]
        if where == "query" and not param.get("required") and name != "usage_point":
            continue
        values = _values(name, path, ids)
        if values is None:
            return f"no identifier of B for parameter {name!r}"
        variants = [
            (url.replace("{" + name + "}", v), query)
            if where == "path"
            else (url, {**query, name: v})
            for url, query in variants
            for v in values
        ]
    return variants


def _body(method: str, path: str) -> dict[str, Any] | None:
    if path.startswith("/api/v1/subscriptions") and method == "PUT":
        return {"noun": "MeterReadings", "address": "http://127.0.0.1:9/a", "tenant": TENANT_B}
    return None


def _drive_rest(
    client: httpx.Client, app: Any, ids: dict[str, list[str]], probe: Probe, keys: dict[str, str]
) -> int:
    driven, unknown = 0, []
    routes = _routes(app)
    # reads first: later writes of A's own data must not look like leaks
    for method, path, operation in sorted(routes, key=lambda r: r[0] != "GET"):
        if (method, path) in CIM_ROUTES:
            continue
        requests = _requests(method, path, operation, ids)
        if isinstance(requests, str):
            unknown.append(f"{method} {path}: {requests}")
            continue
        for url, query in requests:
            response = client.request(
                method,
                url,
                params=query,
                headers=as_tenant(TENANT_A, keys),
                json=_body(method, path),
            )
            driven += 1
            probe.answered += response.is_success
            what = f"{method} {url} {query}"
            if response.status_code >= 500:
                probe.failures.append(f"{what}: {response.status_code}")
            if path not in NOT_TENANT_DATA:
                probe.check(what, f"{url} {query} {_body(method, path)}", response.text)
    assert unknown == [], "routes the tenant matrix cannot drive (add a case):\n" + "\n".join(
        unknown
    )
    return driven


def _golden(noun: str, verb: str) -> bytes | None:
    """A valid golden message for noun × verb, or a related verb's, rewritten."""
    for wanted in (verb, RELATED.get(verb), "create", "created"):
        for entry in INDEX:
            if entry["noun"] == noun and entry["verb"] == wanted and entry["valid"]:
                raw = (MESSAGES / entry["file"]).read_bytes()
                return raw if wanted == verb else _reverb(raw, noun, wanted, verb)
    return None


def _reverb(raw: bytes, noun: str, old: str, new: str) -> bytes:
    text_ = raw.decode()
    text_ = re.sub(rf"(</?(?:\w+:)?){old.capitalize()}{noun}\b", rf"\1{new.capitalize()}{noun}",
                   text_)  # fmt: skip
    text_ = re.sub(rf"(<(?:\w+:)?Verb>){old}(</)", rf"\g<1>{new}\2", text_)
    return text_.encode()


def _soap_service(raw: bytes) -> str:
    match = re.search(rb"<(?:\w+:)?([A-Z]\w+)[\s>]", re.sub(rb"<\?xml[^>]*\?>|<!--.*?-->", b"",
                                                             raw, flags=re.S))  # fmt: skip
    element = match.group(1).decode() if match else ""
    for name, service in soap.services().items():
        if any(tag.endswith("}" + element) for tag in service.inputs):
            return name
    return "CIMHub"


def _drive_cim(client: httpx.Client, hub: Hub, probe: Probe, keys: dict[str, str]) -> list[str]:
    missing, codes = [], []
    supported = sorted((str(n), str(v)) for n, v in hub.registry.supported())
    # reads (get) first, as for REST
    for noun, verb in sorted(supported, key=lambda nv: nv[1] != "get"):
        raw = _golden(noun, verb)
        if raw is None:
            missing.append(f"{verb} {noun}")
            continue
        http = client.post("/cim", content=raw, headers=as_tenant(TENANT_A, keys))
        service = _soap_service(raw)
        soap_response = client.post(
            f"/soap/{service}", content=soap.envelope_bytes(raw), headers=as_tenant(TENANT_A, keys)
        )
        for transport, response in (("http", http), ("soap", soap_response)):
            what = f"{transport} {verb} {noun}"
            code = re.search(r"<(?:\w+:)?code>([\d.]+)<", response.text)
            codes.append(f"{what}: {code.group(1) if code else response.status_code}")
            if (code and code.group(1).startswith("5")) or response.status_code == 503:
                probe.failures.append(f"{what}: {response.text[:300]}")
            probe.check(what, raw.decode(errors="replace"), response.text)
    assert missing == [], "noun × verb the tenant matrix has no message for:\n" + "\n".join(missing)
    return codes


def test_tenant_a_never_reads_or_changes_tenant_b(served: Served) -> None:
    hub, client, keys = served.hub, served.client, served.keys
    b_id = _tenant_id(hub, TENANT_B)
    before = rows_of(hub.database, b_id)
    subscriptions_before = _b_subscriptions(hub)
    assert before["meter"] and before["usage_point"] and before["interval_reading"]
    assert before["end_device_event"] and before["message_log"]
    assert before["subscription"]  # B's subscriptions are its rows: A changes none of them
    assert before["dead_letter"]  # so are B's undeliverable reply and events
    assert bool(before["member_role"]) == bool(keys)  # and its members' roles
    ids = _b_identifiers(hub)
    probe = Probe(_fingerprint(hub))
    assert ids["meter"] and ids["usage_point"] and ids["node"] and probe.fingerprint
    control = Probe(probe.fingerprint)  # the probe does see B's data when it is there
    for url in (f"/api/v1/tenants/{TENANT_B}/meters", "/api/v1/subscriptions"):
        control.check(url, url, client.get(url, headers=as_tenant(TENANT_B, keys)).text)
    assert len(control.leaks) == 2
    app = hub.web_app()
    driven = _drive_rest(client, app, ids, probe, keys)
    codes = _drive_cim(client, hub, probe, keys)
    assert driven > 20 and len(codes) >= 2 * len(hub.registry.supported())
    assert probe.answered > 20  # A was let in: what it got was its own data, not B's
    assert probe.leaks == [], "tenant B's data reached tenant A:\n" + "\n".join(probe.leaks)
    assert probe.failures == [], "\n".join(probe.failures)
    settled(hub)
    after = rows_of(hub.database, b_id)
    changed = [t for t in before if before[t] != after.get(t)]
    assert changed == [], f"tenant A's requests changed tenant B's rows in {changed}"
    assert _b_subscriptions(hub) == subscriptions_before
    # and underneath the routes, A's scope has no B subscription to list or remove
    bus = hub.bus
    assert bus is not None
    assert B_SUBSCRIPTION in {s.name for s in bus.subscriptions(as_tenant=TENANT_B)}
    assert B_SUBSCRIPTION not in {s.name for s in bus.subscriptions(as_tenant=TENANT_A)}
    assert not bus.remove_subscription(B_SUBSCRIPTION, as_tenant=TENANT_A)
    assert _b_subscriptions(hub) == subscriptions_before
    # nor a B dead letter to list, show or replay
    b_letters = [lt.id for lt in list_letters(hub.database, tenant=TENANT_B)]
    assert b_letters and not set(b_letters) & {
        lt.id for lt in list_letters(hub.database, tenant=TENANT_A, include_replayed=True)
    }
    for letter_id in b_letters:
        assert get_letter(hub.database, letter_id, tenant=TENANT_A) is None
        with pytest.raises(UnknownObjectError):
            replay(hub.database, letter_id, tenant=TENANT_A, force=True)
    assert rows_of(hub.database, b_id)["dead_letter"] == before["dead_letter"]


def _tenant_id(hub: Hub, code: str) -> int:
    with hub.database.unit_of_work(hub=True) as uow:
        found = uow.tenants.find(code)
        assert found is not None
        return found


def _b_subscriptions(hub: Hub) -> list[Any]:
    with hub.database.engine.connect() as c:
        rows = c.execute(text("SELECT s.* FROM subscription s JOIN tenant t ON t.id = "
                              "s.tenant_id WHERE t.code = :t ORDER BY s.name"),
                         {"t": TENANT_B})  # fmt: skip
        return [tuple(r) for r in rows]
