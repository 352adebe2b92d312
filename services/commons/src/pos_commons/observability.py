"""Pure ASGI middleware: request id, Server-Timing, per-route latency, optional access log.

Written against raw ASGI rather than BaseHTTPMiddleware, which would copy every request
through an extra task and cost measurable throughput on the hot item-lookup path.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pos_commons.lifecycle import Lifecycle
from pos_commons.metrics import HttpMetrics
from pos_commons.request_context import (
    REQUEST_ID_HEADER,
    RequestTimings,
    accept_request_id,
    request_id_var,
    timings_var,
)

_access_log = logging.getLogger("pos.access")
_REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode()


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _server_timing(timings: RequestTimings, total_seconds: float) -> bytes:
    parts = []
    for entry in timings.entries:
        part = f"{entry.name};dur={entry.seconds * 1000:.3f}"
        if entry.description:
            part += f';desc="{entry.description}"'
        parts.append(part)
    parts.append(f"app;dur={total_seconds * 1000:.3f}")
    return ", ".join(parts).encode()


class ObservabilityMiddleware:
    def __init__(
        self, app: ASGIApp, metrics: HttpMetrics, lifecycle: Lifecycle, access_log: bool = False
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.lifecycle = lifecycle
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID_HEADER_BYTES:
                presented = value.decode("latin-1")
                break
        request_id = accept_request_id(presented)
        timings = RequestTimings()
        # Each request runs in its own task, so these are not reset afterwards: the 500
        # handler, which runs outside this middleware, still sees the request id.
        request_id_var.set(request_id)
        timings_var.set(timings)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((_REQUEST_ID_HEADER_BYTES, request_id.encode()))
                headers.append(
                    (b"server-timing", _server_timing(timings, time.perf_counter() - started))
                )
                if self.lifecycle.draining:
                    # Pooled clients reconnect, and so leave a replica that is going away.
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            if self.access_log:
                _access_log.info(
                    "%s %s %s %.1fms",
                    scope["method"],
                    scope["path"],
                    status,
                    elapsed * 1000,
                    extra={"route": route, "status": status},
                )


class TemplatedRoute(Route):
    """A plain Starlette route that, like FastAPI's, tells the middleware its path template
    (so metrics group by route, not by URL)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope
