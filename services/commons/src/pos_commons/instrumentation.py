"""What both services attach when tracing is on (pos_commons.tracing), and only then.

- HTTP server spans: FastAPI's native OpenTelemetry hook, with this process's provider and
  W3C trace context read from the request's headers (master-data's hot path names its span
  itself: `name_server_span`). Probes and /metrics are left out (a
  trace every few seconds per probe, about nothing), as are catalog feed streams (a
  subscription lasts as long as its subscriber: hours of one span; cart traces each change
  it applies instead).
- gRPC client and server spans: opentelemetry-instrumentation-grpc's grpc.aio interceptors,
  which carry the trace context in the call's metadata; health checks, reflection and the
  catalog feed's stream are left out for the same reasons.
- MongoDB command spans: opentelemetry-instrumentation-pymongo's command listener, for the
  commands sent inside a traced call (`ParentedCommandTracer`).

With tracing off none of this exists: FastAPI's hook is turned off (it costs even with no
provider: docs/performance.md), no interceptor, no listener.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi.telemetry import TelemetryConfig
from grpc import aio
from opentelemetry import trace
from pymongo import monitoring

from pos_commons.tracing import Tracing

UNTRACED_PATHS = frozenset({"/health", "/ready", "/metrics"})
"""Served often, by machines, about nothing a trace would explain."""

UNTRACED_GRPC_SERVICES = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "pos.masterdata.v1.CatalogFeedService",
)

TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def fastapi_telemetry(
    tracing: Tracing | None, untraced: Callable[[str], bool] | None = None
) -> TelemetryConfig:
    """FastAPI's `telemetry=`: server spans when tracing is on (but for UNTRACED_PATHS and
    the paths `untraced` names), nothing otherwise. Metrics and logs stay Prometheus' and
    the JSON log's."""
    if tracing is None:
        return TELEMETRY_OFF

    def excluded(scope: Any) -> bool:
        path = str(scope.get("path", ""))
        return path in UNTRACED_PATHS or (untraced is not None and untraced(path))

    return {
        "tracer_provider": tracing.provider,
        "tracing": True,
        "metrics": False,
        "logs": False,
        # Spans of FastAPI's own steps (dependencies, endpoint, serialization) would outnumber
        # the ones that explain a call: the database and master-data.
        "operation_spans": False,
        "exclude": excluded,
    }


def name_server_span(method: str, route: str) -> None:
    """Names the current server span after its route template, for a route FastAPI's hook
    does not see (master-data's hot path, served ahead of FastAPI's routing): by hand, as
    FastAPI's routing does for its own routes."""
    span = trace.get_current_span()
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)


def _traced_rpc() -> Callable[[Any], bool]:
    from opentelemetry.instrumentation.grpc import filters

    untraced = [filters.service_name(name) for name in UNTRACED_GRPC_SERVICES]
    return filters.negate(filters.any_of(*untraced))


def grpc_client_interceptors(tracing: Tracing | None) -> Sequence[aio.ClientInterceptor]:
    """The interceptors of a channel to another service: a client span per call, its trace
    context in the call's metadata. None with tracing off."""
    if tracing is None:
        return ()
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    # The instrumentation's factories are not annotated.
    interceptors: list[aio.ClientInterceptor] = aio_client_interceptors(  # type: ignore[no-untyped-call]
        tracer_provider=tracing.provider, filter_=_traced_rpc()
    )
    return interceptors


def grpc_server_interceptors(tracing: Tracing | None) -> Sequence[aio.ServerInterceptor]:
    """The gRPC server's first interceptors: a server span per call, continuing the caller's
    trace from its metadata. None with tracing off."""
    if tracing is None:
        return ()
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    interceptor: aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
        tracer_provider=tracing.provider, filter_=_traced_rpc()
    )
    return (interceptor,)


class ParentedCommandTracer(monitoring.CommandListener):
    """pymongo's command spans (opentelemetry-instrumentation-pymongo's CommandTracer: name
    `<database>.<command>`, the collection in `db.mongodb.collection`), for commands sent
    inside a traced call only.

    Commands outside any call (the catalog feed's change stream asking for more every few
    seconds, readiness probes, session clean-ups) would each be a trace of one span.
    """

    def __init__(self, tracing: Tracing) -> None:
        from opentelemetry.instrumentation.pymongo import CommandTracer

        self._tracer = CommandTracer(tracing.tracer("opentelemetry.instrumentation.pymongo"))

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if trace.get_current_span().get_span_context().is_valid:
            self._tracer.started(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._tracer.succeeded(event)  # ends the span if `started` made one

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._tracer.failed(event)


def mongo_listeners(tracing: Tracing | None) -> Sequence[monitoring.CommandListener]:
    """The extra command listeners of a service's MongoDB client."""
    return () if tracing is None else (ParentedCommandTracer(tracing),)
