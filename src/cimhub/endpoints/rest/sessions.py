"""/api/v1/auth: a user logs in (name, password and tenant → a session token), asks who it
is, and logs out. The token works as ``Authorization: Bearer cs_…`` or, for a browser,
as the HttpOnly, SameSite=Strict ``cimhub_session`` cookie (unsafe methods then also send
``X-Cimhub-CSRF`` with the ``csrf_token`` of the login answer)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cimhub.domain.access import Kind
from cimhub.endpoints.auth import Authenticator, authenticate
from cimhub.endpoints.logins import COOKIE, Opened
from cimhub.endpoints.rest import schemas
from cimhub.errors import InvalidValueError, NotAuthenticatedError

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.Problem, "description": "not a session (2.1)"},
    401: {"model": schemas.Problem, "description": "wrong user, password or tenant (6.1)"},
    403: {"model": schemas.Problem, "description": "concurrent session limit reached (6.4)"},
}
#: The one answer to a refused login, whatever the reason (the audit log says which).
REFUSED = "wrong user name, password or tenant, or the user is locked out for a while"


class LoginIn(BaseModel):
    user: str = Field(min_length=1, max_length=100, examples=["asha"])
    password: str = Field(min_length=1, max_length=1000, description="never logged or stored")
    tenant: str = Field(min_length=1, max_length=64, examples=["discom-a"])


class SessionOut(BaseModel):
    token: str = Field(description="the session token, shown once: cs_<id>.<secret>")
    session: str = Field(description="the session's public id (listings, revocation)")
    user: str
    tenant: str
    roles: list[str]
    created_at: int
    expires_at: int = Field(description="the absolute end, whatever the use")
    idle_seconds: int = Field(description="the session ends after this long unused")
    csrf_token: str = Field(description="send as X-Cimhub-CSRF with a cookie on unsafe methods")
    evicted: list[str] = Field(description="sessions this login ended to stay within the limit")


class WhoAmI(BaseModel):
    name: str
    tenant: str
    kind: str
    roles: list[str]
    session: str | None = Field(description="the session's public id, when one is used")


def router() -> APIRouter:
    api = APIRouter(prefix="/auth", tags=["sessions"], responses=ERRORS)

    @api.post("/login", status_code=201, summary="Log in: a session token (and cookie)")
    async def login(request: Request, response: Response, body: LoginIn) -> SessionOut:
        authenticator: Authenticator = request.app.state.authenticator
        client = request.client.host if request.client else None
        member = await run_in_threadpool(
            authenticator.logins.password, body.user, body.password, client, body.tenant
        )
        if member is None:
            authenticator.failed(client, body.user[:100], "login refused")  # logged, audited
            raise NotAuthenticatedError(f"not authenticated: {REFUSED}")
        opened = await run_in_threadpool(authenticator.logins.open, member, client)
        response.headers["Cache-Control"] = "no-store"  # the answer holds the token
        secure = authenticator.settings.session_cookie_secure or request.url.scheme == "https"
        response.set_cookie(
            COOKIE,
            opened.token,
            max_age=authenticator.settings.session_max_seconds,
            path="/",
            secure=secure,
            httponly=True,
            samesite="strict",
        )
        return _session_out(opened, authenticator.settings.session_idle_seconds)

    @api.post("/logout", status_code=204, summary="End the session this request uses")
    async def logout(request: Request, response: Response) -> None:
        principal = await authenticate(request)
        if principal.session is None:
            raise InvalidValueError("this request does not use a session (nothing to log out)")
        authenticator: Authenticator = request.app.state.authenticator
        await run_in_threadpool(authenticator.logins.logout, principal)
        response.delete_cookie(COOKIE, path="/")

    @api.get("/session", summary="Who this request authenticates as")
    async def whoami(request: Request) -> WhoAmI:
        principal = await authenticate(request)
        anonymous = principal.kind is Kind.LOOPBACK
        return WhoAmI(
            name=principal.name,
            tenant=principal.tenant,
            kind=principal.kind.value,
            roles=[] if anonymous else sorted(principal.roles),
            session=principal.session,
        )

    return api


def _session_out(opened: Opened, idle: int) -> SessionOut:
    info = opened.info
    return SessionOut(
        token=opened.token,
        session=info.id,
        user=info.user,
        tenant=info.tenant,
        roles=sorted(opened.roles),
        created_at=info.created_at,
        expires_at=info.expires_at,
        idle_seconds=idle,
        csrf_token=opened.csrf,
        evicted=opened.evicted,
    )
