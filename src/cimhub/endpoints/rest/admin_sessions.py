"""/api/v1/admin: a tenant's administrators list and revoke its users' sessions, unlock
users locked out by failed logins and set the concurrent-session limits (``admin.read`` /
``admin.write``; every change audited with the administrator as its actor)."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from cimhub.domain.access import Kind, Principal
from cimhub.domain.session import EVERY_ROLE, EndReason, OnLimit
from cimhub.endpoints.auth import Authenticator
from cimhub.endpoints.rest.admin import ERRORS
from cimhub.endpoints.rest.deps import Reader, bound_tenant
from cimhub.errors import UnknownObjectError
from cimhub.settings import Settings
from cimhub.store.security import Member, Security
from cimhub.store.sessions import Sessions


class SessionItem(BaseModel):
    id: str = Field(description="the session's public id (never its token)")
    user: str
    tenant: str
    address: str
    created_at: int
    last_seen_at: int
    expires_at: int


class LimitIn(BaseModel):
    role: str = Field(default=EVERY_ROLE, max_length=64, description="'' = every role")
    max_sessions: int = Field(ge=1, le=1000)
    on_limit: Literal["evict", "refuse"] = Field(
        default="evict", description="tenant-wide; counts on the every-role limit only"
    )


class Limits(BaseModel):
    hub_default: int
    on_limit: str
    by_role: dict[str, int] = Field(description="'' = the tenant's limit for every role")


def router(reader: Reader, settings: Settings) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["administration"], responses=ERRORS)

    def principal_of(request: Request) -> Principal:
        return request.state.principal  # type: ignore[no-any-return]  # set by the guard

    def tenant_of(request: Request) -> str:
        principal = principal_of(request)
        if principal.kind is Kind.LOOPBACK:
            return bound_tenant(request) or settings.default_tenant
        return principal.tenant

    def actor(request: Request) -> str:
        principal = principal_of(request)
        return f"{principal.kind.value}:{principal.name}"

    def user_in(security: Security, name: str, tenant: str) -> Member:
        found = security.active_user(name)
        if found is None or found[0].tenant != tenant:
            raise UnknownObjectError(f"no active user {name!r}", object_id=name)
        return found[0]

    @api.get("/sessions", summary="The tenant's live sessions (of one user when named)")
    def sessions(request: Request, user: str | None = None) -> list[SessionItem]:
        with reader.writing(tenant_of(request)) as (uow, _):
            found = Sessions(uow).listing(
                now=int(time.time()),
                idle=settings.session_idle_seconds,
                tenant=tenant_of(request),
                user=user,
            )
        return [SessionItem(**{k: getattr(s, k) for k in SessionItem.model_fields}) for s in found]

    @api.delete("/sessions/{session_id}", status_code=204, summary="Revoke one session")
    def revoke(request: Request, session_id: str) -> None:
        tenant = tenant_of(request)
        with reader.writing(tenant) as (uow, _):
            Sessions(uow).end(
                session_id,
                EndReason.REVOKED,
                actor=actor(request),
                tenant=tenant,
                now=int(time.time()),
            )

    @api.delete("/users/{name}/sessions", summary="Revoke every session of a user")
    def revoke_all(request: Request, name: str) -> dict[str, int]:
        tenant = tenant_of(request)
        with reader.writing(tenant) as (uow, _):
            member = user_in(Security(uow), name, tenant)
            ended = Sessions(uow).end_all(
                member.id,
                EndReason.REVOKED,
                actor=actor(request),
                tenant=tenant,
                user=name,
                now=int(time.time()),
            )
        return {"ended": ended}

    @api.post("/users/{name}/unlock", status_code=204, summary="Lift a failed-login lock")
    def unlock(request: Request, name: str) -> None:
        tenant = tenant_of(request)
        with reader.writing(tenant) as (uow, _):
            member = user_in(Security(uow), name, tenant)
        authenticator: Authenticator = request.app.state.authenticator
        authenticator.logins.unlock(member, actor=actor(request))

    @api.get("/session-limits", summary="The tenant's concurrent-session limits")
    def limits(request: Request) -> Limits:
        with reader.writing(tenant_of(request)) as (uow, tenant_id):
            by_role, on_limit = Sessions(uow).limits(tenant_id)
        chosen = on_limit or OnLimit(settings.session_on_limit)
        return Limits(hub_default=settings.session_limit, on_limit=chosen.value, by_role=by_role)

    @api.put("/session-limits", status_code=204, summary="Set a concurrent-session limit")
    def set_limit(request: Request, body: LimitIn) -> None:
        tenant = tenant_of(request)
        with reader.writing(tenant) as (uow, tenant_id):
            Sessions(uow).set_limit(
                tenant_id,
                tenant,
                body.role,
                body.max_sessions,
                OnLimit(body.on_limit),
                actor=actor(request),
            )

    return api
