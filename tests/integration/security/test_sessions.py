"""Interactive sessions over real HTTP, on each backend: login → token (bearer or cookie),
logout, idle and absolute expiry, concurrent-session limits (evict and refuse), the
failed-login lock, administrators' listing and revocation, and the audit trail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import update

from cimhub.settings import Settings
from cimhub.store.security import Security
from cimhub.store.session_models import LoginSession
from cimhub.testing.security import PASSWORD, Secured, provision
from cimhub.testing.server import running_hub

TENANT_PAGE = "/api/v1/tenants/a"
WAIT = 60  # seconds a request may take on a loaded machine (Argon2, two backends)


@dataclass
class Console:
    """A hub with sessions limited to 2 per user, and ways to log in."""

    secured: Secured

    @property
    def base(self) -> str:
        return self.secured.base

    def login(
        self,
        user: str = "asha",
        password: str = PASSWORD,
        tenant: str = "a",
        client: httpx.Client | None = None,
    ) -> httpx.Response:
        body = {"user": user, "password": password, "tenant": tenant}
        if client is not None:
            return client.post(f"{self.base}/api/v1/auth/login", json=body)
        return httpx.post(f"{self.base}/api/v1/auth/login", json=body, timeout=WAIT)

    def token(self, user: str = "asha") -> str:
        reply = self.login(user)
        assert reply.status_code == 201, reply.text
        return str(reply.json()["token"])

    def get(self, token: str, path: str = TENANT_PAGE) -> httpx.Response:
        return httpx.get(
            self.base + path, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT
        )

    def admin(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.secured.keys['admin-a']}"}
        url = f"{self.base}/api/v1/admin{path}"
        return httpx.request(method, url, headers=headers, timeout=WAIT, **kwargs)  # type: ignore[arg-type]

    def audit(self, action: str) -> list[str]:
        with self.secured.hub.database.unit_of_work(hub=True) as uow:
            entries = Security(uow).audit.entries()
        return [e.object for e in entries if e.action == action]

    def age(self, token: str, **columns: int) -> None:
        """Move a session's clock back (what waiting would do, without waiting)."""
        public_id = token.split(".")[0]
        with self.secured.hub.database.unit_of_work(hub=True) as uow:
            uow.session.execute(
                update(LoginSession).where(LoginSession.public_id == public_id).values(**columns)
            )


@pytest.fixture
def console(database_url: str) -> Iterator[Console]:
    keys = provision(database_url)
    settings = Settings(
        database_url=database_url,
        session_limit=2,
        session_idle_seconds=600,
        login_max_failures=3,
        login_lockout_seconds=900,
    )
    with running_hub(settings) as (hub, base):
        yield Console(Secured(hub, base, keys, settings))


def test_login_gives_a_token_that_authenticates_until_logout(console: Console) -> None:
    reply = console.login()
    assert reply.status_code == 201, reply.text
    assert reply.headers["cache-control"] == "no-store"  # the answer holds the token
    body = reply.json()
    token, session = body["token"], body["session"]
    assert token.startswith(session + ".") and session.startswith("cs_")
    assert (body["user"], body["tenant"], body["roles"]) == ("asha", "a", ["operator"])
    assert body["expires_at"] - body["created_at"] == console.secured.settings.session_max_seconds
    assert console.get(token).status_code == 200
    me = console.get(token, "/api/v1/auth/session").json()
    assert me == {
        "name": "asha",
        "tenant": "a",
        "kind": "user",
        "roles": ["operator"],
        "session": session,
    }
    assert console.get(token, "/api/v1/tenants/b").status_code == 404  # bound to tenant a
    assert console.get(token, "/api/v1/admin/users").status_code == 403  # an operator
    out = httpx.post(
        f"{console.base}/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}
    )
    assert out.status_code == 204
    refused = console.get(token)
    assert refused.status_code == 401 and refused.json()["code"] == "6.1"
    assert console.audit("session.login") == [f"session:{session}"]
    assert console.audit("session.logout") == [f"session:{session}"]


def test_the_cookie_works_and_unsafe_methods_need_the_csrf_token(console: Console) -> None:
    with httpx.Client(base_url=console.base, timeout=WAIT) as browser:
        reply = console.login(client=browser)
        assert reply.status_code == 201
        cookie = reply.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get(TENANT_PAGE).status_code == 200  # the cookie alone
        forged = browser.post("/api/v1/auth/logout")  # what another site's form could do
        assert forged.status_code == 401 and forged.json()["code"] == "6.1"
        assert browser.get(TENANT_PAGE).status_code == 200  # still logged in
        csrf = {"X-Cimhub-CSRF": reply.json()["csrf_token"]}
        assert browser.post("/api/v1/auth/logout", headers=csrf).status_code == 204
        assert browser.get(TENANT_PAGE).status_code == 401


@pytest.mark.parametrize(
    ("user", "password", "tenant"),
    [("asha", "wrong password!", "a"), ("asha", PASSWORD, "b"), ("nobody", PASSWORD, "a")],
    ids=["wrong-password", "wrong-tenant", "unknown-user"],
)
def test_a_refused_login_says_nothing_about_why(
    console: Console, user: str, password: str, tenant: str
) -> None:
    reply = console.login(user, password, tenant)
    assert reply.status_code == 401 and reply.json()["code"] == "6.1"
    assert "locked out for a while" in reply.json()["detail"]  # the one answer for every case
    assert "token" not in reply.text and "set-cookie" not in reply.headers


def test_failed_logins_lock_the_user_out_on_every_way_in(console: Console) -> None:
    for _ in range(3):
        assert console.login(password="a wrong password").status_code == 401
    assert console.login().status_code == 401  # the right password, but locked
    basic = httpx.get(console.base + TENANT_PAGE, auth=("asha", PASSWORD))
    assert basic.status_code == 401  # HTTP Basic too
    assert console.audit("user.locked") == ["user:asha"]
    refusals = console.audit("session.refused")
    assert len(refusals) >= 4 and set(refusals) == {"user:asha"}
    assert console.admin("POST", "/users/asha/unlock").status_code == 204
    assert console.login().status_code == 201
    assert console.audit("user.unlock") == ["user:asha"]


def test_a_login_beyond_the_limit_evicts_the_oldest_session(console: Console) -> None:
    first, second = console.token(), console.token()
    third = console.login().json()
    assert third["evicted"] == [first.split(".")[0]]
    assert console.get(first).status_code == 401  # ended by the newer login
    assert console.get(second).status_code == 200
    assert console.get(third["token"]).status_code == 200
    listed = console.admin("GET", "/sessions", params={"user": "asha"}).json()
    assert [s["id"] for s in listed] == [second.split(".")[0], third["session"]]
    assert console.audit("session.evict") == [f"session:{first.split('.')[0]}"]


def test_a_tenant_may_refuse_logins_beyond_its_limit(console: Console) -> None:
    limit = {"max_sessions": 1, "on_limit": "refuse"}
    assert console.admin("PUT", "/session-limits", json=limit).status_code == 204
    first = console.token()
    refused = console.login()
    assert refused.status_code == 403 and refused.json()["code"] == "6.4"
    assert console.get(first).status_code == 200  # the session held is untouched
    assert any(o == "user:asha" for o in console.audit("session.refused"))
    console.age(first, last_seen_at=int(time.time()) - 601)  # it idles out…
    assert console.login().status_code == 201  # …and makes room


def test_a_role_limit_is_stricter_than_the_tenants(console: Console) -> None:
    for limit in ({"max_sessions": 5}, {"role": "operator", "max_sessions": 1}):
        assert console.admin("PUT", "/session-limits", json=limit).status_code == 204
    shown = console.admin("GET", "/session-limits").json()
    assert shown == {"hub_default": 2, "on_limit": "evict", "by_role": {"": 5, "operator": 1}}
    first = console.token()
    assert console.login().json()["evicted"] == [first.split(".")[0]]
    unknown = console.admin("PUT", "/session-limits", json={"role": "god", "max_sessions": 1})
    assert unknown.status_code == 404


def test_a_session_idle_too_long_or_past_its_lifetime_is_refused(console: Console) -> None:
    idle, old = console.token(), console.token()
    now = int(time.time())
    console.age(idle, last_seen_at=now - 600)
    refused = console.get(idle)
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    console.age(old, expires_at=now - 1)  # used a moment ago, but its lifetime is over
    assert console.get(old).status_code == 401


def test_using_a_session_restarts_its_idle_clock(console: Console) -> None:
    token = console.token()
    console.age(token, last_seen_at=int(time.time()) - 500)  # 100 s of the 600 left
    assert console.get(token).status_code == 200
    listed = console.admin("GET", "/sessions").json()
    assert listed[0]["last_seen_at"] >= int(time.time()) - 5


def test_administrators_list_and_revoke_only_their_tenants_sessions(console: Console) -> None:
    with console.secured.hub.database.unit_of_work(hub=True) as uow:
        Security(uow).create_user("b", "bala", PASSWORD, ["operator"], actor="test")
    theirs = console.login("bala", PASSWORD, "b").json()["session"]
    token = console.token()
    listed = console.admin("GET", "/sessions").json()
    assert [s["user"] for s in listed] == ["asha"]  # bala's is in tenant b
    assert console.admin("DELETE", f"/sessions/{theirs}").status_code == 404
    assert console.admin("DELETE", f"/sessions/{token.split('.')[0]}").status_code == 204
    assert console.get(token).status_code == 401
    assert console.audit("session.revoke") == [f"session:{token.split('.')[0]}"]
    again = console.token()
    assert console.admin("DELETE", "/users/asha/sessions").json() == {"ended": 1}
    assert console.get(again).status_code == 401


def test_a_new_password_or_a_disabled_user_ends_the_sessions(console: Console) -> None:
    token = console.token()
    with console.secured.hub.database.unit_of_work(hub=True) as uow:
        Security(uow).set_password("asha", "another long password", actor="test")
    assert console.get(token).status_code == 401
    token = console.login(password="another long password").json()["token"]
    with console.secured.hub.database.unit_of_work(hub=True) as uow:
        Security(uow).disable_user("asha", actor="test")
    assert console.get(token).status_code == 401


def test_logout_without_a_session_is_a_coded_400(console: Console) -> None:
    key = {"Authorization": f"Bearer {console.secured.keys['op-a']}"}
    reply = httpx.post(f"{console.base}/api/v1/auth/logout", headers=key)
    assert reply.status_code == 400 and reply.json()["code"] == "2.1"


def test_logins_at_once_never_squeeze_past_the_limit(console: Console) -> None:
    limit = {"max_sessions": 1, "on_limit": "refuse"}
    assert console.admin("PUT", "/session-limits", json=limit).status_code == 204
    with ThreadPoolExecutor(4) as pool:
        answers = sorted(r.status_code for r in pool.map(lambda _: console.login(), range(4)))
    assert answers == [201, 403, 403, 403]
    assert len(console.admin("GET", "/sessions").json()) == 1
