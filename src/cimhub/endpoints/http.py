"""The HTTP face of the hub: POST /cim, health and readiness, and the SOAP routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cimhub import __version__
from cimhub.bus.pipeline import Answer, Inbound, Pipeline
from cimhub.endpoints import openapi, rest, soap
from cimhub.endpoints.body import read_capped
from cimhub.errors import MessageTooLargeError
from cimhub.message.reply import Outcome, Result, render_reply
from cimhub.settings import Settings
from cimhub.store.database import Database

if TYPE_CHECKING:
    from cimhub.bus.runtime import Bus

XML = "application/xml"
TENANT_HEADER = "X-Cimhub-Tenant"


def http_status(answer: Answer) -> int:
    """OK and PARTIAL are 200; a refused message 400 (413 when too large); outages 503."""
    if answer.technical:
        return 503
    if answer.result is Result.FAILED:
        return 413 if answer.code == "1.3" else 400
    return 200


def tenant_of(request: Request, settings: Settings) -> str:
    # Until credentials bind a tenant (security issue), a header may name it.
    return (
        request.headers.get(TENANT_HEADER, settings.default_tenant).strip()
        or settings.default_tenant
    )


def create_app(
    settings: Settings, pipeline: Pipeline, database: Database, bus: Bus | None = None
) -> FastAPI:
    app = FastAPI(
        title="cimhub",
        version=__version__,
        description="IEC 61968-100 / 61968-9 integration hub and meter data management",
    )

    @app.post("/cim", response_class=Response, summary="Any 61968-100 message, as application/xml")
    async def post_cim(request: Request) -> Response:
        try:
            raw = await read_capped(request, settings.max_message_bytes)
        except MessageTooLargeError as exc:
            body = render_reply(None, Outcome.failed(exc))
            return Response(body, status_code=413, media_type=XML)
        inbound = Inbound(raw, tenant_of(request, settings), "http")
        answer = await run_in_threadpool(pipeline.process, inbound)
        return Response(answer.body, status_code=http_status(answer), media_type=XML)

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="The database and the message bus are reachable")
    async def readyz() -> JSONResponse:
        db_ok = await run_in_threadpool(database.ping)
        checks = {"database": "ok" if db_ok else "unreachable"}
        ok = db_ok
        if bus is not None:
            bus_ok = await run_in_threadpool(bus.ping)
            checks["broker"] = ("ok" if bus_ok else "unreachable") + (
                " (in-process)" if bus.embedded else ""
            )
            ok = ok and bus_ok
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    openapi.document_errors(app)
    soap.mount(app, settings, pipeline)
    rest.mount(app, database)
    if bus is not None:
        from cimhub.endpoints import metrics, subscriptions

        metrics.mount(app, bus)
        subscriptions.mount(app, bus)
    return app
