"""Reports as JSON or CSV: meter inventory; installed but not communicating for N days;
the disconnection summary by organisation unit."""

from __future__ import annotations

import csv
import io
import time
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from cimhub.domain.hierarchy import Level
from cimhub.endpoints.rest.deps import Reader, same_tenant
from cimhub.endpoints.rest.masterdata import ERRORS, Tenant
from cimhub.mappings.timestamp import to_epoch
from cimhub.store.command_reports import disconnections
from cimhub.store.reports import Report, meter_inventory, not_communicating

DAY = 86_400


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


class OrgLevel(StrEnum):
    """The organisation levels a report rolls up to (zone: the region)."""

    REGION = "region"
    CIRCLE = "circle"
    DIVISION = "division"
    SUBDIVISION = "subdivision"
    SECTION = "section"


CSV_AND_JSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {}}, "description": "the report"},
    **ERRORS,
}


def render(report: Report, fmt: Format, name: str) -> Response:
    if fmt is Format.JSON:
        return JSONResponse({"summary": report.summary, "rows": report.rows})
    out = io.StringIO()
    writer = csv.DictWriter(out, report.columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(report.rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def router(reader: Reader) -> APIRouter:
    api = APIRouter(tags=["reports"], responses=CSV_AND_JSON, dependencies=[Depends(same_tenant)])

    @api.get(
        "/tenants/{tenant}/reports/meter-inventory",
        response_class=Response,
        summary="Meters by lifecycle stage and make",
    )
    def inventory(tenant: Tenant, format: Format = Format.JSON) -> Response:
        with reader.tenant(tenant) as (uow, tenant_id):
            return render(meter_inventory(uow, tenant_id), format, f"{tenant}-meter-inventory")

    @api.get(
        "/tenants/{tenant}/reports/not-communicating",
        response_class=Response,
        summary="Installed meters with no reading for `days` days (reconciliation report)",
    )
    def silent(
        tenant: Tenant,
        days: Annotated[int, Query(ge=1, le=3650, description="days without a reading")] = 3,
        as_of: Annotated[int | None, Query(description="UTC epoch seconds; default now")] = None,
        format: Format = Format.JSON,
    ) -> Response:
        with reader.tenant(tenant) as (uow, tenant_id):
            report = not_communicating(
                uow, tenant_id, days=days, as_of=as_of if as_of is not None else int(time.time())
            )
            return render(report, format, f"{tenant}-not-communicating-{days}d")

    @api.get(
        "/tenants/{tenant}/reports/disconnections",
        response_class=Response,
        summary="Disconnect and reconnect commands by state and outcome per organisation unit",
    )
    def disconnection_summary(
        tenant: Tenant,
        level: OrgLevel = OrgLevel.DIVISION,
        start: Annotated[
            str | None, Query(description="ISO 8601 with zone; default end − 30 days")
        ] = None,
        end: Annotated[
            str | None, Query(description="ISO 8601 with zone (excluded); default now")
        ] = None,
        format: Format = Format.JSON,
    ) -> Response:
        until = to_epoch(end) if end else int(time.time()) + 1  # now included
        since = to_epoch(start) if start else until - 30 * DAY
        with reader.tenant(tenant) as (uow, tenant_id):
            report = disconnections(uow, tenant_id, start=since, end=until, level=Level(level))
            return render(report, format, f"{tenant}-disconnections-by-{level.value}")

    return api
