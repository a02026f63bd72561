"""application/problem+json (RFC 9457) for the REST API, rendered from the hub's errors."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from cimhub.errors import (
    CODES,
    CimHubError,
    NotAuthenticatedError,
    NotPermittedError,
    RateLimitedError,
    TechnicalError,
    UnknownObjectError,
)

MEDIA_TYPE = "application/problem+json"
#: Hub error classes → HTTP status (anything else functional is a 400).
STATUS = {
    UnknownObjectError: 404,
    NotAuthenticatedError: 401,
    NotPermittedError: 403,
    RateLimitedError: 429,
}


def problem(
    status: int, title: str, detail: str, code: str | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"urn:cimhub:error:{code}" if code else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        **({"code": code} if code else {}),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def of(error: CimHubError) -> JSONResponse:
    if isinstance(error, TechnicalError):
        status = 503
    else:
        status = next((s for cls, s in STATUS.items() if isinstance(error, cls)), 400)
    return problem(status, CODES[error.code].title, error.reason, error.code,
                   **({"object": error.object_id} if error.object_id else {}))  # fmt: skip


def install(app: FastAPI, prefix: str) -> None:
    """Handle the API's errors as problems; other paths keep FastAPI's defaults."""

    @app.exception_handler(CimHubError)
    async def hub_error(_request: Request, exc: CimHubError) -> JSONResponse:
        return of(exc)

    default_validation = app.exception_handlers.get(RequestValidationError)
    default_http = app.exception_handlers.get(HTTPException)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        if not request.url.path.startswith(prefix) and default_validation:
            return await _call(default_validation, request, exc)
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return problem(422, "invalid request", detail, "2.4")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        if not request.url.path.startswith(prefix) and default_http:
            return await _call(default_http, request, exc)
        return problem(exc.status_code, str(exc.detail), str(exc.detail))


async def _call(handler: Any, request: Request, exc: Exception) -> Any:
    """Run FastAPI's own handler, sync or async."""
    result = handler(request, exc)
    return await result if inspect.isawaitable(result) else result
