"""The OpenAPI document says every answer an operation can give, errors included.

FastAPI documents what a route returns when all goes well; the hub's error answers
(problem+json on the REST API, coded 61968-100 replies on /cim, SOAP Faults, FastAPI's
own 404s elsewhere) are added here once for every operation, so that clients — and the
schemathesis run in CI — can rely on the document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

PROBLEM_TYPE = "application/problem+json"
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "object": {"type": "string"},
    },
}
DETAIL = {"type": "object", "properties": {"detail": {}}}
TEXT = {"type": "string"}
#: What each error status means, for its description.
MEANING = {
    "400": "refused: the request or its message is invalid (coded reply)",
    "401": "not authenticated (code 6.1)",
    "403": "not permitted (code 6.2)",
    "404": "not found (code 2.15 on the API)",
    "409": "conflict",
    "413": "request body too large (code 1.3)",
    "422": "invalid parameter (code 2.4)",
    "429": "rate limit exceeded (code 6.3); see Retry-After",
    "500": "SOAP Fault",
    "503": "storage or broker unavailable (codes 5.x)",
}
#: How clients authenticate once the hub has credentials (open loopback mode: none needed).
#: SOAP authenticates with WS-Security in the envelope, which OpenAPI cannot express.
SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key",
               "description": "a system credential's key (cimhub credential create)"},
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "a credential's key, a user's session token (cs_…, from "
                              "POST /api/v1/auth/login), or a JWT (claims sub, tenant, roles)"},
    "basic": {"type": "http", "scheme": "basic", "description": "a user's name and password"},
    "session": {"type": "apiKey", "in": "cookie", "name": "cimhub_session",
                "description": "a user's session cookie (set by POST /api/v1/auth/login); "
                               "unsafe methods also send X-Cimhub-CSRF"},
}  # fmt: skip
ANY_CREDENTIAL = [{"apiKey": []}, {"bearer": []}, {"basic": []}, {"session": []}]
OPEN_PATHS = {"/healthz", "/readyz", "/openapi.json", "/docs", "/redoc"}
#: Operations that take credentials in their body (documented as needing none).
LOGIN_PATHS = {"/api/v1/auth/login"}
API_ERRORS = ("400", "401", "403", "404", "409", "413", "422", "429", "503")
CIM_ERRORS = ("400", "401", "403", "413", "429", "503")
SOAP_ERRORS = ("404", "413", "429", "500")


def document_errors(app: FastAPI, api_prefix: str = "/api/v1") -> None:
    """Make ``app.openapi()`` declare every operation's error answers."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    _complete(path, method, operation.setdefault("responses", {}), api_prefix)
                    if path in LOGIN_PATHS:
                        operation["security"] = []  # the user's name and password are the body
                    elif path not in OPEN_PATHS and not path.startswith("/soap"):
                        operation["security"] = ANY_CREDENTIAL
                        for status in ("401", "403"):  # credentials presented are checked
                            operation["responses"].setdefault(
                                status, _answer(status, PROBLEM_TYPE, PROBLEM)
                            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(path: str, method: str, responses: dict[str, Any], api_prefix: str) -> None:
    if path.startswith(api_prefix):
        for status in API_ERRORS:
            responses[status] = _answer(status, PROBLEM_TYPE, PROBLEM)
    elif path == "/cim":
        for status in CIM_ERRORS:
            responses[status] = _answer(status, "application/xml", TEXT)
        responses["200"] = _answer("200", "application/xml", TEXT, "the Reply")
    elif path.startswith("/soap/") and method == "post":
        for status in SOAP_ERRORS:
            responses[status] = _answer(status, "text/xml", TEXT)
        responses["200"] = _answer("200", "text/xml", TEXT, "the Reply in a SOAP Envelope")
    else:
        responses.setdefault("404", _answer("404", "application/json", DETAIL))
        responses.setdefault("429", _answer("429", PROBLEM_TYPE, PROBLEM))
    if path == "/soap/{service}" and method == "get":
        responses["200"] = _answer("200", "text/xml", TEXT, "the service's WSDL")
    if path == "/soap/xsd/{name}":
        responses["200"] = _answer("200", "application/xml", TEXT, "the XSD")
    if path == "/readyz":
        responses["503"] = {"description": "not ready", "content": {"application/json": {}}}
    if path == "/metrics":
        responses["200"] = _answer("200", "text/plain", TEXT, "Prometheus metrics")


def _answer(status: str, media_type: str, schema: dict[str, Any], text: str = "") -> Any:
    return {
        "description": text or MEANING.get(status, "error"),
        "content": {media_type: {"schema": schema}},
    }
