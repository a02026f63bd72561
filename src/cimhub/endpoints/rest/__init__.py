"""The REST API (/api/v1): read and search master data and its reports; OpenAPI 3 at
/openapi.json. Errors are RFC 9457 ``application/problem+json`` carrying the hub's code."""

from __future__ import annotations

from fastapi import FastAPI

from cimhub.endpoints.rest import billing, masterdata, problems, reports
from cimhub.endpoints.rest.deps import Reader
from cimhub.store.database import Database

PREFIX = "/api/v1"


def mount(app: FastAPI, database: Database) -> None:
    """Add the API's routes and its problem+json error handlers to ``app``."""
    reader = Reader(database)
    app.include_router(masterdata.router(reader), prefix=PREFIX)
    app.include_router(reports.router(reader), prefix=PREFIX)
    app.include_router(billing.router(reader), prefix=PREFIX)
    problems.install(app, PREFIX)
