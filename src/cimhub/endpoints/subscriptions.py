"""REST: /api/v1/subscriptions — external systems subscribe to nouns and verbs.

A subscription names what it wants (noun, verbs, optionally a tenant, reading types or
event types), where to deliver (an HTTP(S) URL, a SOAP endpoint, or an AMQP queue) with
its credentials, and its retry policy. Each has its own queue (``cimhub.sub.<name>``)
and dead letters. Credentials are write-only: listings say only whether there are some.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cimhub.bus.runtime import Bus, subscription_of
from cimhub.endpoints.auth import guard
from cimhub.endpoints.rest.deps import bound_tenant
from cimhub.store.audit import AuditLog

PREFIX = "/api/v1/subscriptions"


class SubscriptionIn(BaseModel):
    noun: str = Field(examples=["MeterReadings"])
    verbs: list[str] = Field(default_factory=lambda: ["created"])
    address: str = Field(examples=["https://billing.example/cim/meter-readings"])
    protocol: Literal["http", "soap", "amqp"] = "http"
    tenant: str | None = None
    reading_types: list[str] = Field(default_factory=list)
    event_types: list[str] = Field(default_factory=list)
    credentials: str | None = Field(default=None, description="'user:password' or 'Bearer …'")
    max_attempts: int = Field(default=5, gt=0, le=100)
    backoff_seconds: float = Field(default=1.0, gt=0, le=3600)
    active: bool = True


def mount(app: FastAPI, bus: Bus) -> None:
    GUARD = [Depends(guard("subscriptions"))]

    @app.get(PREFIX, summary="Every subscription", dependencies=GUARD)
    async def list_subscriptions(request: Request) -> list[dict[str, Any]]:
        subs = await run_in_threadpool(_read, bus, request)
        return [s.public() for s in subs if _visible(s, request)]

    @app.get(PREFIX + "/{name}", summary="One subscription", dependencies=GUARD)
    async def get_subscription(name: str, request: Request) -> dict[str, Any]:
        subs = await run_in_threadpool(_read, bus, request)
        for sub in subs:
            if sub.name == name and _visible(sub, request):
                return sub.public()
        raise HTTPException(404, f"no subscription {name!r}")

    @app.put(PREFIX + "/{name}", summary="Create or replace a subscription", dependencies=GUARD)
    async def put_subscription(name: str, body: SubscriptionIn, request: Request) -> dict[str, Any]:
        bound = bound_tenant(request)
        if bound is not None:  # a tenant subscribes to its own data only
            if body.tenant not in (None, bound):
                raise HTTPException(404, f"unknown tenant {body.tenant!r}")
            body = body.model_copy(update={"tenant": bound})
            subs = await run_in_threadpool(bus.subscriptions)  # every name, its own or not
            if any(s.name == name and not _visible(s, request) for s in subs):
                raise HTTPException(409, f"the name {name!r} is taken")
        sub = subscription_of({"name": name, **body.model_dump()})
        saved = await run_in_threadpool(partial(bus.put_subscription, sub, as_tenant=bound))
        await run_in_threadpool(_audit, bus, request, "subscription.put", name, saved.public())
        return saved.public()

    @app.delete(
        PREFIX + "/{name}", status_code=204, summary="Remove a subscription", dependencies=GUARD
    )
    async def delete_subscription(name: str, request: Request) -> None:
        bound = bound_tenant(request)
        if not await run_in_threadpool(partial(bus.remove_subscription, name, as_tenant=bound)):
            raise HTTPException(404, f"no subscription {name!r}")
        await run_in_threadpool(_audit, bus, request, "subscription.remove", name, None)


def _audit(bus: Bus, request: Request, action: str, name: str, after: Any) -> None:
    """A subscription change in the audit log (its credentials never: ``public()``)."""
    principal = getattr(request.state, "principal", None)
    actor = f"{principal.kind.value}:{principal.name}" if principal else "anonymous"
    with bus.database.unit_of_work(hub=True) as uow:
        AuditLog(uow).record(actor, action, f"subscription:{name}",
                             tenant=bound_tenant(request), after=after)  # fmt: skip


def _read(bus: Bus, request: Request) -> list[Any]:
    """What the caller's tenant's scope holds (its own and the hub's), or all."""
    return bus.subscriptions(as_tenant=bound_tenant(request))


def _visible(sub: Any, request: Request) -> bool:
    """A tenant's caller sees its own subscriptions only (not other tenants', not the
    hub-wide ones); a caller bound to no tenant (open loopback mode) sees all."""
    bound = bound_tenant(request)
    return bound is None or sub.tenant == bound
