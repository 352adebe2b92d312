"""The FastAPI app both services are: observability outermost, and a hot path for the few
routes whose latency is the product (master-data's item lookups).

FastAPI's own per-request machinery (its middleware stack, routing, dependency solving) costs
more than everything a cached item lookup does. Hot routes are plain Starlette routes matched
and served ahead of that stack; their failures go through the same `error_response_for` as
every other route's, and they stay registered with the router too (405s, OpenAPI).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pos_commons.http_errors import error_response_for, install_error_handlers
from pos_commons.metrics import HttpMetrics
from pos_commons.observability import ObservabilityMiddleware


class HotPath:
    def __init__(self, app: ASGIApp, routes: Sequence[Route]) -> None:
        self.app = app
        self.routes = list(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    try:
                        await route.handle(scope, receive, send)
                    except Exception as exc:
                        await error_response_for(exc)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class ServiceApp(FastAPI):
    def __init__(
        self,
        *,
        metrics: HttpMetrics,
        access_log: bool,
        hot_routes: Sequence[Route] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(
            # FastAPI's native OpenTelemetry hooks cost ~15 us a request even with no provider
            # configured; these services expose Prometheus metrics instead (/metrics).
            telemetry={"tracing": False, "metrics": False, "logs": False},
            **kwargs,
        )
        self._metrics = metrics
        self._access_log = access_log
        self._hot_routes = list(hot_routes)
        self.router.routes.extend(self._hot_routes)
        install_error_handlers(self)

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if self._hot_routes:
            stack = HotPath(stack, self._hot_routes)
        return ObservabilityMiddleware(stack, self._metrics, self._access_log)
