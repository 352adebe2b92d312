"""Liveness, readiness (MongoDB and master-data over the configured transport), metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cart.api.deps import Resources
from pos_commons.envelope import JsonResponse, error_response, ok
from pos_commons.exposure import require_metrics_access
from pos_commons.metrics import metrics_response
from pos_commons.openapi import error_responses

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness: the process answers")
async def health(resources: Resources) -> JsonResponse:
    return ok({"status": "ok", "transport": resources.master_data.transport})


@router.get(
    "/ready",
    summary="Readiness: not shutting down, and MongoDB and master-data answer",
    responses=error_responses(
        503, s503="SHUTTING_DOWN or NOT_READY (details say which dependency)"
    ),
)
async def ready(request: Request, resources: Resources) -> JsonResponse:
    if request.app.lifecycle.draining:
        return error_response(503, "SHUTTING_DOWN", "cart is shutting down.")
    mongodb, master_data = await asyncio.gather(
        resources.mongo.ready(), resources.master_data.ready()
    )
    checks = {
        "mongodb": "ok" if mongodb else "unreachable",
        "masterData": "ok" if master_data else "unreachable",
        "transport": resources.master_data.transport,
    }
    if mongodb and master_data:
        return ok({"status": "ready", **checks})
    return error_response(503, "NOT_READY", "A dependency does not answer.", checks)


@router.get(
    "/metrics",
    summary="Prometheus metrics (METRICS_TOKEN as bearer token when set)",
    response_class=Response,
    dependencies=[Depends(require_metrics_access)],
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **error_responses(401, 404, s404="ROUTE_NOT_FOUND (production without METRICS_TOKEN)"),
    },
)
async def metrics(resources: Resources) -> Response:
    return metrics_response(resources.registry)
