"""The REST API (/api/v1): read and search master data and its reports; OpenAPI 3 at
/openapi.json. Errors are RFC 9457 ``application/problem+json`` carrying the hub's code."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from cimhub.endpoints.auth import guard
from cimhub.endpoints.rest import (
    admin,
    admin_sessions,
    billing,
    masterdata,
    problems,
    reports,
    sessions,
)
from cimhub.endpoints.rest.deps import Reader
from cimhub.settings import Settings
from cimhub.store.database import Database

PREFIX = "/api/v1"


def mount(app: FastAPI, database: Database, settings: Settings) -> None:
    """Add the API's routes and its problem+json error handlers to ``app``."""
    reader = Reader(database)
    for area, module in (("masterdata", masterdata), ("reports", reports), ("billing", billing)):
        app.include_router(
            module.router(reader), prefix=PREFIX, dependencies=[Depends(guard(area))]
        )
    admin_only = [Depends(guard("admin"))]
    app.include_router(admin.router(database), prefix=PREFIX, dependencies=admin_only)
    app.include_router(
        admin_sessions.router(reader, settings), prefix=PREFIX, dependencies=admin_only
    )
    app.include_router(sessions.router(), prefix=PREFIX)  # login needs no credentials
    problems.install(app, PREFIX)
