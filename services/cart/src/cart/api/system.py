"""Liveness (with how master-data, the catalog feed and the item cache are), readiness (cart's
own database only: cached sales go on while master-data is away), metrics."""

from __future__ import annotations

import asyncio

from fastapi import Depends, Request
from starlette.responses import Response

from cart.api.deps import Resources
from pos_commons.envelope import JsonResponse, error_response, ok
from pos_commons.exposure import require_metrics_access
from pos_commons.metrics import metrics_response
from pos_commons.openapi import error_responses
from pos_commons.service_app import ServiceRouter

router = ServiceRouter(tags=["system"])

HEALTH_PROBE_SECONDS = 0.5
"""How long /health waits for master-data's answer (it reports it, never fails on it)."""


@router.get(
    "/health",
    summary="Liveness: the process answers; how master-data, the catalog feed and the cache are",
)
async def health(resources: Resources) -> JsonResponse:
    master_data = resources.master_data
    try:
        async with asyncio.timeout(HEALTH_PROBE_SECONDS):
            reachable = await master_data.ready()
    except TimeoutError:
        reachable = False
    body: dict[str, object] = {
        "status": "ok",
        "transport": master_data.transport,
        "masterData": "ok" if reachable else "unreachable",
    }
    if resources.feeds is not None and resources.item_cache is not None:
        cache = resources.item_cache
        stats = cache.stats
        body["catalogFeed"] = resources.feeds.summary()
        body["itemCache"] = {
            "items": len(cache),
            "paymentMethods": cache.payment_methods,
            "bytes": cache.bytes,
            "maxEntries": cache.max_entries,
            "hits": stats.hits,
            "misses": stats.misses,
            "hitRatio": round(stats.hit_rate, 4),
            "evictions": stats.evictions,
        }
    return ok(body)


@router.get(
    "/ready",
    summary="Readiness: not shutting down, and MongoDB answers (master-data is not needed)",
    responses=error_responses(503, s503="SHUTTING_DOWN or NOT_READY (details say which)"),
)
async def ready(request: Request, resources: Resources) -> JsonResponse:
    if request.app.lifecycle.draining:
        return error_response(503, "SHUTTING_DOWN", "cart is shutting down.")
    if await resources.mongo.ready():
        return ok({"status": "ready", "mongodb": "ok"})
    return error_response(503, "NOT_READY", "MongoDB does not answer.", {"mongodb": "unreachable"})


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
