"""/api/v1/admin: an administrator manages its tenant's credentials, users and grants;
everyone else is refused; every change lands in the audit chain."""

from __future__ import annotations

import httpx

from cimhub.testing.security import Secured


def call(secured: Secured, method: str, path: str, key: str, **kwargs: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.request(method, f"{secured.base}/api/v1/admin{path}", headers=headers, **kwargs)


def test_an_administrator_creates_uses_and_revokes_a_credential(secured: Secured) -> None:
    admin = secured.keys["admin-a"]
    made = call(secured, "POST", "/credentials", admin,
                json={"name": "billing-a", "roles": ["billing system"], "tenant": "b"})  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["tenant"] == "a"  # a body can't pick another tenant
    key = made.json()["key"]
    assert httpx.get(f"{secured.base}/api/v1/tenants/a",
                     headers={"Authorization": f"Bearer {key}"}).status_code == 200  # fmt: skip
    listed = call(secured, "GET", "/credentials", admin).json()
    assert {c["tenant"] for c in listed} == {"a"}
    assert all("key" not in c for c in listed)
    assert call(secured, "DELETE", f"/credentials/{made.json()['id']}", admin).status_code == 204
    assert httpx.get(f"{secured.base}/api/v1/tenants/a",
                     headers={"Authorization": f"Bearer {key}"}).status_code == 401  # fmt: skip


def test_another_tenants_credential_cannot_be_revoked(secured: Secured) -> None:
    prefix = secured.keys["ro-b"].split(".")[0]
    reply = call(secured, "DELETE", f"/credentials/{prefix}", secured.keys["admin-a"])
    assert reply.status_code == 404


def test_non_administrators_are_refused(secured: Secured) -> None:
    for name in ("op-a", "ro-a", "hes-a"):
        reply = call(secured, "GET", "/credentials", secured.keys[name])
        assert reply.status_code == 403, name
        assert reply.json()["code"] == "6.2"
    assert httpx.get(f"{secured.base}/api/v1/admin/audit").status_code == 401


def test_users_roles_and_the_audit_trail(secured: Secured) -> None:
    admin = secured.keys["admin-a"]
    user = {"name": "ravi", "roles": ["analyst"], "password": "long enough secret"}
    made = call(secured, "POST", "/users", admin, json=user)
    assert made.status_code == 201, made.text
    assert "password" not in made.text
    assert {u["name"] for u in call(secured, "GET", "/users", admin).json()} == {"asha", "ravi"}
    assert "analyst" in call(secured, "GET", "/roles", admin).json()
    trail = call(secured, "GET", "/audit", admin).json()
    assert {"user.create", "credential.create"} <= {e["action"] for e in trail}
    assert all(e["tenant"] == "a" for e in trail)
    assert call(secured, "GET", "/audit/verify", admin).json() == {"intact": True}


def test_a_tenants_administrator_cannot_change_the_roles_every_tenant_shares(
    secured: Secured,
) -> None:
    """A grant to a role reaches every tenant's principals holding it: tenant a's
    administrator granting its analysts more would grant tenant b's analysts more too."""
    admin = secured.keys["admin-a"]
    before = call(secured, "GET", "/roles", admin).json()
    for method, path in (("PUT", "/roles/read-only/grants/EndDeviceControls.create"),
                         ("DELETE", "/roles/operator/grants/rest.commands.write")):  # fmt: skip
        reply = call(secured, method, path, admin)
        assert reply.status_code == 403, reply.text
        assert reply.json()["code"] == "6.2"
        assert "cimhub role" in reply.json()["detail"]
    assert call(secured, "GET", "/roles", admin).json() == before
