"""/api/v1/admin: credentials, users, roles and the audit log (``admin.read`` /
``admin.write``). A principal administers its own tenant. Roles are hub-wide — one
catalogue every tenant's principals draw on — so a tenant's administrator may read them but
not change them: a grant would reach into every other tenant. Grants change through
``cimhub role grant|revoke`` on the hub's machine (or here in open loopback mode).
Every change is audited with the principal as its actor."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from cimhub.domain.access import Kind, Principal
from cimhub.endpoints.auth import Authenticator
from cimhub.endpoints.rest import schemas
from cimhub.errors import InvalidValueError, NotPermittedError
from cimhub.store.database import Database
from cimhub.store.security import Security

MAX_ID = 2**63 - 1  # audit ids are 64-bit
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.Problem, "description": "invalid value or rule (2.1, 3.x)"},
    401: {"model": schemas.Problem, "description": "not authenticated (6.1)"},
    403: {"model": schemas.Problem, "description": "not permitted (6.2)"},
    404: {"model": schemas.Problem, "description": "unknown tenant, role or credential (2.15)"},
    422: {"model": schemas.Problem, "description": "invalid parameter (2.4)"},
}


class CredentialIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["hes-a"])
    roles: list[str] = Field(min_length=1, examples=[["HES system"]])
    allow: list[str] = Field(default_factory=list, description="CIDRs; empty: any address")
    wsse_digest: bool = Field(default=False, description="may sign WS-Security digests")
    tenant: str | None = Field(default=None, description="only in open loopback mode")

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(v, strict=False)) for v in value]


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    roles: list[str] = Field(min_length=1)
    password: str = Field(min_length=12, description="never echoed, stored as Argon2id")
    tenant: str | None = Field(default=None, description="only in open loopback mode")


def router(database: Database) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["administration"], responses=ERRORS)

    @contextmanager
    def security() -> Iterator[Security]:
        with database.unit_of_work(hub=True) as uow:
            yield Security(uow)

    def principal_of(request: Request) -> Principal:
        return request.state.principal  # type: ignore[no-any-return]  # set by the guard

    def tenant_of(request: Request, named: str | None = None) -> str | None:
        """The tenant administered: the principal's; in loopback mode the one named."""
        principal = principal_of(request)
        return named if principal.kind is Kind.LOOPBACK else principal.tenant

    def actor(request: Request) -> str:
        principal = principal_of(request)
        return f"{principal.kind.value}:{principal.name}"

    @api.get("/credentials", summary="The tenant's credentials (never their keys)")
    def credentials(request: Request) -> list[dict[str, Any]]:
        with security() as s:
            return [
                {"id": c.prefix, "tenant": c.tenant, "name": c.name, "roles": list(c.roles),
                 "allow": list(c.allow), "created_at": c.created_at, "revoked_at": c.revoked_at,
                 "wsse_digest": c.wsse_digest}
                for c in s.credentials(tenant_of(request))
            ]  # fmt: skip

    @api.post("/credentials", status_code=201, summary="A new API key, shown once")
    def create_credential(request: Request, body: CredentialIn) -> dict[str, str]:
        tenant = tenant_of(request, body.tenant)
        if tenant is None:
            raise InvalidValueError("name the tenant of the credential")
        authenticator: Authenticator = request.app.state.authenticator
        if body.wsse_digest and authenticator.cipher is None:
            raise InvalidValueError("wsse_digest needs CIMHUB_SECRET_KEY on the hub")
        with security() as s:
            key = s.create_credential(
                tenant, body.name, body.roles, actor=actor(request), allow=tuple(body.allow),
                digest_cipher=authenticator.cipher if body.wsse_digest else None,
            )  # fmt: skip
        return {"id": key.split(".")[0], "key": key, "tenant": tenant, "name": body.name}

    @api.delete("/credentials/{prefix}", status_code=204, summary="Revoke a credential")
    def revoke_credential(request: Request, prefix: str) -> None:
        with security() as s:
            s.revoke_credential(prefix, actor=actor(request), tenant=tenant_of(request))

    @api.get("/users", summary="The tenant's users and their roles")
    def users(request: Request) -> list[dict[str, Any]]:
        with security() as s:
            return [
                {"tenant": t, "name": n, "roles": list(r), "disabled": d}
                for t, n, r, d in s.users(tenant_of(request))
            ]

    @api.post("/users", status_code=201, summary="A new user")
    async def create_user(request: Request, body: UserIn) -> dict[str, str]:
        tenant = tenant_of(request, body.tenant)
        if tenant is None:
            raise InvalidValueError("name the tenant of the user")

        def create() -> None:  # Argon2 takes a while: off the event loop
            with security() as s:
                s.create_user(tenant, body.name, body.password, body.roles, actor=actor(request))

        await run_in_threadpool(create)
        return {"tenant": tenant, "name": body.name}

    @api.get("/roles", summary="Every role and the permission patterns it grants")
    def roles() -> dict[str, list[str]]:
        with security() as s:
            return {role: sorted(grants) for role, grants in sorted(s.grants().items())}

    @api.put("/roles/{role}/grants/{permission}", status_code=204, summary="Grant a permission")
    def grant(request: Request, role: str, permission: str) -> None:
        hub_operator(principal_of(request))
        with security() as s:
            s.grant(role, permission, actor=actor(request))

    @api.delete("/roles/{role}/grants/{permission}", status_code=204, summary="Revoke it")
    def revoke(request: Request, role: str, permission: str) -> None:
        hub_operator(principal_of(request))
        with security() as s:
            s.revoke(role, permission, actor=actor(request))

    @api.get("/audit", summary="The tenant's audit entries, oldest first")
    def audit(
        request: Request,
        after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="entries after this id")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        with security() as s:
            entries = s.audit.entries(tenant=tenant_of(request), after_id=after_id, limit=limit)
        return [{k: getattr(e, k) for k in e.__slots__} for e in entries]

    @api.get("/audit/verify", summary="Recompute the whole hash chain")
    def verify() -> dict[str, Any]:
        with security() as s:
            broken = s.audit.verify()
        if broken is None:
            return {"intact": True}
        return {"intact": False, "entry": broken.entry_id, "reason": broken.reason}

    return api


def hub_operator(principal: Principal) -> None:
    """Raise 6.2 unless the principal acts for the whole hub (open loopback mode): roles are
    shared by every tenant, so no tenant's administrator may change them."""
    if principal.kind is not Kind.LOOPBACK:
        raise NotPermittedError(
            f"{principal.name!r} may not change roles: they are shared by every tenant "
            "(use cimhub role grant|revoke on the hub's machine)"
        )
