"""GET /metrics: the bus's Prometheus metrics (queue depths, consumers, retries, dead letters)."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from cimhub.bus.runtime import Bus
from cimhub.endpoints.auth import guard


def mount(app: FastAPI, bus: Bus) -> None:
    @app.get(
        "/metrics",
        response_class=Response,
        summary="Prometheus metrics",
        dependencies=[Depends(guard("metrics"))],
    )
    async def metrics() -> Response:
        body = await run_in_threadpool(generate_latest, bus.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
