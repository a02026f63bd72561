"""REST: /api/v1/subscriptions — external systems subscribe to nouns and verbs.

A subscription names what it wants (noun, verbs, optionally a tenant, reading types or
event types), where to deliver (an HTTP(S) URL, a SOAP endpoint, or an AMQP queue) with
its credentials, and its retry policy. Each has its own queue (``cimhub.sub.<name>``)
and dead letters. Credentials are write-only: listings say only whether there are some.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cimhub.bus.runtime import Bus, subscription_of

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
    @app.get(PREFIX, summary="Every subscription")
    async def list_subscriptions() -> list[dict[str, Any]]:
        subs = await run_in_threadpool(bus.subscriptions)
        return [s.public() for s in subs]

    @app.get(PREFIX + "/{name}", summary="One subscription")
    async def get_subscription(name: str) -> dict[str, Any]:
        subs = await run_in_threadpool(bus.subscriptions)
        for sub in subs:
            if sub.name == name:
                return sub.public()
        raise HTTPException(404, f"no subscription {name!r}")

    @app.put(PREFIX + "/{name}", summary="Create or replace a subscription")
    async def put_subscription(name: str, body: SubscriptionIn) -> dict[str, Any]:
        sub = subscription_of({"name": name, **body.model_dump()})
        saved = await run_in_threadpool(bus.put_subscription, sub)
        return saved.public()

    @app.delete(PREFIX + "/{name}", status_code=204, summary="Remove a subscription")
    async def delete_subscription(name: str) -> None:
        if not await run_in_threadpool(bus.remove_subscription, name):
            raise HTTPException(404, f"no subscription {name!r}")
