"""The HTTP face of the hub: POST /cim, health and readiness, and the SOAP routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cimhub import __version__
from cimhub.bus.pipeline import Answer, Inbound, Pipeline
from cimhub.endpoints import limits, openapi, rest, soap
from cimhub.endpoints.auth import Authenticator, authenticate
from cimhub.endpoints.body import read_capped
from cimhub.errors import (
    MessageTooLargeError,
    NotAuthenticatedError,
    NotPermittedError,
    TechnicalError,
)
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
        return {"1.3": 413, "6.1": 401, "6.2": 403}.get(answer.code, 400)
    return 200


def tenant_of(request: Request, settings: Settings) -> str:
    """The request's tenant: its principal's (the header counts only in open loopback mode)."""
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        return str(principal.tenant)
    return (
        request.headers.get(TENANT_HEADER, settings.default_tenant).strip()
        or settings.default_tenant
    )


def refusal(error: NotAuthenticatedError | NotPermittedError) -> Response:
    """A FAILED 61968-100 reply for a request refused before its message was read."""
    status = 401 if isinstance(error, NotAuthenticatedError) else 403
    headers = {"WWW-Authenticate": 'Bearer realm="cimhub"'} if status == 401 else None
    body = render_reply(None, Outcome.failed(error))
    return Response(body, status_code=status, media_type=XML, headers=headers)


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
            principal = await authenticate(request)  # charges the principal's rate too
        except (NotAuthenticatedError, NotPermittedError) as exc:
            return refusal(exc)
        except TechnicalError as exc:  # the store cannot say who it is: 5.x, try again
            return Response(render_reply(None, Outcome.failed(exc)), 503, media_type=XML)
        except limits.Throttled as exc:
            return limits.too_many(request.url.path, exc.wait)
        try:
            raw = await read_capped(request, settings.max_message_bytes)
        except MessageTooLargeError as exc:
            body = render_reply(None, Outcome.failed(exc))
            return Response(body, status_code=413, media_type=XML)
        inbound = Inbound(raw, principal.tenant, "http", principal=principal)
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

    app.state.authenticator = Authenticator(settings, database)
    openapi.document_errors(app)
    soap.mount(app, settings, pipeline)
    rest.mount(app, database, settings)
    if bus is not None:
        from cimhub.endpoints import metrics, subscriptions

        metrics.mount(app, bus)
        subscriptions.mount(app, bus)
    limits.install(app, settings)  # last: it wraps every route mounted above
    return app
