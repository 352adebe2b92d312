"""Liveness, readiness, metrics and cache statistics."""

from __future__ import annotations

from fastapi import Depends, Request
from starlette.responses import Response

from master_data.api.deps import Resources
from pos_commons.auth import require_reader
from pos_commons.envelope import JsonResponse, error_response, ok
from pos_commons.exposure import require_metrics_access
from pos_commons.metrics import metrics_response
from pos_commons.openapi import error_responses
from pos_commons.service_app import ServiceRouter

router = ServiceRouter(tags=["system"])


@router.get("/health", summary="Liveness: the process answers; how its catalog feed is")
async def health(resources: Resources) -> JsonResponse:
    feed = resources.feed
    return ok(
        {
            "status": "ok",
            "catalogFeed": {
                "reader": "up" if feed.up else "down",
                "subscribers": feed.subscriber_count,
            },
        }
    )


@router.get(
    "/ready",
    summary="Readiness: not shutting down, and MongoDB answers",
    responses=error_responses(503, s503="SHUTTING_DOWN or DATABASE_UNAVAILABLE"),
)
async def ready(request: Request, resources: Resources) -> JsonResponse:
    if request.app.lifecycle.draining:
        return error_response(503, "SHUTTING_DOWN", "master-data is shutting down.")
    if await resources.mongo.ready():
        return ok({"status": "ready", "mongodb": "ok"})
    return error_response(503, "DATABASE_UNAVAILABLE", "MongoDB does not answer.")


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


@router.get(
    "/api/v1/stats/cache",
    dependencies=[Depends(require_reader)],
    summary="Item-detail cache statistics",
    responses=error_responses(401),
)
async def cache_stats(resources: Resources) -> JsonResponse:
    cache = resources.detail_cache
    stats = cache.stats
    return ok(
        {
            "enabled": cache.enabled,
            "ttlSeconds": cache.ttl_seconds,
            "entries": len(cache),
            "hits": stats.hits,
            "misses": stats.misses,
            "hitRate": round(stats.hit_rate, 4),
            "evictions": stats.evictions,
            "invalidations": stats.invalidations,
        }
    )
