"""Billing REST API (seed 001's API list): the consumption summary (a cycle's stored
determinants, or month-to-date from the daily aggregates) and validated interval data of a
usage point, as JSON or CSV."""

from __future__ import annotations

import io
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from cimhub.billing.cycle import parse_cycle
from cimhub.billing_commands import write_csv
from cimhub.domain.reading import MeterRef, ReadingKind
from cimhub.endpoints.rest.deps import Reader, same_tenant
from cimhub.endpoints.rest.reports import CSV_AND_JSON, Format
from cimhub.errors import UnknownObjectError
from cimhub.store.billing import determinants, month_to_date
from cimhub.store.billing_config import BillingConfigs
from cimhub.store.validated import ValidatedRepository

TenantQ = Annotated[str, Query(description="tenant code")]
UsagePointQ = Annotated[str | None, Query(description="usage point mRID or consumer number")]
MAX_READINGS = 100_000


def router(reader: Reader) -> APIRouter:
    api = APIRouter(tags=["billing"], responses=CSV_AND_JSON, dependencies=[Depends(same_tenant)])

    @api.get("/billing/consumption-summary", response_class=Response,
             summary="Billing determinants of a cycle (stored by `cimhub billing run`), or "
                     "month-to-date for one usage point")  # fmt: skip
    def summary(
        tenant: TenantQ,
        cycle: Annotated[str | None, Query(description="YYYY-MM; default: this cycle")] = None,
        usage_point: UsagePointQ = None,
        format: Format = Format.JSON,
    ) -> Response:
        with reader.tenant(tenant) as (uow, tenant_id):
            config = BillingConfigs(uow).current(tenant_id)
            name = cycle or datetime.now(config.zone).strftime("%Y-%m")
            ids = None
            if usage_point is not None:
                ids = [uow.usage_points.require(tenant_id, [usage_point])[usage_point].id]
            rows = determinants(uow, tenant_id, cycle=name, usage_point_ids=ids)
            if not rows and ids:  # not billed yet: month-to-date from the daily aggregates
                running = month_to_date(
                    uow, tenant_id, ids[0], parse_cycle(name, config.cycle_day), config.zone
                )
                return JSONResponse({"cycle": name, "usage_point": usage_point,
                                     "month_to_date": running.summary()})  # fmt: skip
        if format is Format.CSV:
            out = io.StringIO()
            write_csv(out, rows)
            return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
        return JSONResponse({"cycle": name, "usage_points": [_public(r) for r in rows]})

    @api.get("/billing/validated-data", response_class=Response,
             summary="Validated interval readings of a usage point's meters")  # fmt: skip
    def validated(
        tenant: TenantQ,
        usage_point: Annotated[str, Query(description="usage point mRID or consumer number")],
        start: Annotated[int | None, Query(description="UTC epoch seconds (exclusive)")] = None,
        end: Annotated[int | None, Query(description="UTC epoch seconds (inclusive)")] = None,
    ) -> Response:
        with reader.tenant(tenant) as (uow, tenant_id):
            stays = uow.usage_points.stays_of(tenant_id, [MeterRef(mrid=usage_point)])[0]
            if not stays:
                unknown = f"unknown usage point {usage_point!r}"
                raise UnknownObjectError(unknown, object_id=usage_point)
            meters = sorted(stays)
            series = ValidatedRepository(uow).query(
                tenant_id, ReadingKind.INTERVAL, meter_ids=meters, reading_type_ids=None,
                start=start, end=end if end is not None else int(time.time()), after=None,
                limit=MAX_READINGS, windows={m: w for m, w in stays.items() if w is not None},
            )  # fmt: skip
            codes = uow.reading_types.codes_for({s.reading_type_id for s in series})
            names = uow.meters.describe(tenant_id, meters)
        return JSONResponse({"usage_point": usage_point, "series": [
            {"meter": names[s.meter_id].key, "reading_type": codes[s.reading_type_id],
             "timestamps": s.timestamps, "values": s.values, "qualities": s.qualities}
            for s in series]})  # fmt: skip

    return api


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "usage_point": row["mrid"],
        "consumer_number": row["consumer_number"],
        "period_start": row["period_start"],
        "period_end": row["period_end"],
        "ready": row["ready"],
        "reason": row["reason"],
        **row["data"],
    }
