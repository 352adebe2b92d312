"""master-data's hot path: the few routes whose latency is the product (the item lookups),
served ahead of FastAPI's own machinery.

FastAPI's per-request machinery (its middleware stack, routing, dependency solving) costs more
than everything a cached item lookup does. Hot routes are plain Starlette routes matched and
served ahead of that stack, inside the body-size limit and observability every ServiceApp has;
their failures go through the same `error_response_for` as every other route's, and they stay
registered with the router too (405s, OpenAPI).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pos_commons.http_errors import error_response_for
from pos_commons.instrumentation import name_server_span
from pos_commons.service_app import ServiceApp


class HotPath:
    def __init__(self, app: ASGIApp, routes: Sequence[Route], traced: bool = False) -> None:
        """`traced`: name the server span (tracing on) after the route template."""
        self.app = app
        self.routes = list(routes)
        self.traced = traced

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    if self.traced:
                        name_server_span(scope["method"], route.path)
                    try:
                        await route.handle(scope, receive, send)
                    except Exception as exc:
                        await error_response_for(exc)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class HotPathApp(ServiceApp):
    """A ServiceApp that serves `hot_routes` through HotPath, ahead of FastAPI's stack."""

    def __init__(self, *, hot_routes: Sequence[Route], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hot_routes = list(hot_routes)
        self.router.routes.extend(self._hot_routes)

    def build_fastapi_stack(self) -> ASGIApp:
        stack = super().build_fastapi_stack()
        if self._hot_routes:
            stack = HotPath(stack, self._hot_routes, traced=self.tracing is not None)
        return stack
