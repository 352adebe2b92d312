"""Prometheus metrics on a registry owned by the app (not the process-global default)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.responses import Response

from pos_commons.cache import TtlCache

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
)  # fmt: skip


def service_registry() -> CollectorRegistry:
    """A service's own registry (not the process-global default, which tests building several
    apps in one process would share), with what the default registry would have had: the
    process (CPU seconds, resident memory, open and maximum file descriptors, start time),
    the platform (Python's version) and the garbage collector (collections and objects per
    generation)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class HttpMetrics:
    """Request latency per route template, method and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.request_seconds = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route", "status"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )

        # labels() takes a lock and builds a key on every call; the children are reused.
        self._children: dict[tuple[str, str, int], Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.request_seconds.labels(method, route, str(status))
        child.observe(seconds)


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class _CacheCollector:
    def __init__(self, name: str, cache: TtlCache[Any, Any]) -> None:
        self._name = name
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        stats = self._cache.stats
        prefix = f"{self._name}_cache"
        yield CounterMetricFamily(f"{prefix}_hits", "Cache lookups answered.", value=stats.hits)
        yield CounterMetricFamily(
            f"{prefix}_misses", "Cache lookups not answered.", value=stats.misses
        )
        yield CounterMetricFamily(
            f"{prefix}_evictions", "Entries dropped for space.", value=stats.evictions
        )
        yield GaugeMetricFamily(f"{prefix}_entries", "Entries held.", value=len(self._cache))


class _CommandCollector:
    def __init__(self, counts: dict[str, int]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "mongodb_commands", "MongoDB commands sent, by command name.", labels=["command"]
        )
        for name, count in sorted(self._counts.items()):
            family.add_metric([name], count)
        yield family


def register_command_metrics(registry: CollectorRegistry, counts: dict[str, int]) -> None:
    """Exposes the database commands this process sent (pos_commons.mongo.CommandCounter)."""
    registry.register(_CommandCollector(counts))


def register_cache_metrics(
    registry: CollectorRegistry, name: str, cache: TtlCache[Any, Any]
) -> None:
    """Exposes a cache's hit and miss counters (hit rate = hits / (hits + misses))."""
    registry.register(_CacheCollector(name, cache))
