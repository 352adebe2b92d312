"""The FastAPI app both services are: observability outermost, then the request body limit,
then admission (a bounded number of API requests at once, each with its budget), then
FastAPI's own middleware stack and routing (`build_fastapi_stack`), in front of which a
service may put a layer of its own (master-data's hot path, master_data.api.hot_path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pos_commons.admission import AdmissionLimits
from pos_commons.docs_pages import install_docs_pages
from pos_commons.errors import AppError
from pos_commons.exposure import Exposure
from pos_commons.http_errors import error_response_for, install_error_handlers
from pos_commons.instrumentation import fastapi_telemetry
from pos_commons.lifecycle import Lifecycle
from pos_commons.metrics import HttpMetrics
from pos_commons.observability import ObservabilityMiddleware
from pos_commons.openapi import operation_id
from pos_commons.route_plan import PlannedRoute
from pos_commons.tracing import Tracing


class PayloadTooLargeError(AppError):
    status_code = 413
    default_code = "PAYLOAD_TOO_LARGE"


class BodySizeLimit:
    """Refuses request bodies above `max_bytes` (413) before they are read into memory:
    at once when Content-Length says so, else as soon as a chunked body goes past it.

    Only a chunked body is counted as it arrives: uvicorn's parser hands the app exactly
    Content-Length bytes (and none without either header, HTTP/1.1's framing), so a request
    whose declared length is within the limit passes through untouched.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await error_response_for(self._too_large())(scope, receive, send)
                return
            if name == b"transfer-encoding":
                chunked = True
        if not chunked:
            await self.app(scope, receive, send)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now, and tell the app the client is gone so it stops reading.
                    refused = True
                    await error_response_for(self._too_large())(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # the 413 has been sent: the app's own answer is dropped
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"Request bodies are limited to {self.max_bytes} bytes.")


class ServiceRouter(APIRouter):
    """A router of a service's routes: named as the whole app names them (operation_id), so
    that `ServiceApp.add_routers` can serve them as they are, each solved by its plan
    (pos_commons.route_plan)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("route_class", PlannedRoute)
        super().__init__(generate_unique_id_function=operation_id, **kwargs)


class ServiceApp(FastAPI):
    def __init__(
        self,
        *,
        metrics: HttpMetrics,
        access_log: bool,
        max_request_bytes: int,
        lifecycle: Lifecycle,
        exposure: Exposure,
        admission: AdmissionLimits,
        tracing: Tracing | None = None,
        untraced: Callable[[str], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        """`tracing`: server spans by FastAPI's native OpenTelemetry hook (off without it: the
        hook costs even with no provider, docs/performance.md); `untraced`: paths left out
        besides the probes (pos_commons.instrumentation)."""
        super().__init__(
            telemetry=fastapi_telemetry(tracing, untraced),
            generate_unique_id_function=operation_id,
            **exposure.docs_arguments(),
            **kwargs,
        )
        self.exposure = exposure
        self.tracing = tracing
        self._metrics = metrics
        self._access_log = access_log
        self._max_request_bytes = max_request_bytes
        self._admission = admission
        self.lifecycle = lifecycle
        install_error_handlers(self)
        if exposure.docs:
            install_docs_pages(self)

    def add_routers(self, *routers: ServiceRouter) -> None:
        """Serves the routers' routes as the app's own, in this order.

        Not `include_router`: FastAPI keeps an included router as a branch that each request
        matches twice (once to find the branch, once to pick its route), about 30 us a
        request (docs/performance.md). A route takes its router's prefix, tags, answers and
        dependencies when it is declared, so the routes are served, and documented, as
        they would be included; a router with anything of its own to include (a lifespan,
        a router inside) is refused rather than silently cut short.
        """
        for router in routers:
            if any(not isinstance(route, APIRoute) for route in router.routes):
                raise TypeError(f"{router.prefix or 'a router'}: only API routes can be added")
            if router.on_startup or router.on_shutdown:
                raise TypeError(f"{router.prefix or 'a router'}: has startup or shutdown hooks")
            self.router.routes.extend(router.routes)

    def build_middleware_stack(self) -> ASGIApp:
        stack = self.build_fastapi_stack()
        stack = self._admission.wrap(stack)
        stack = BodySizeLimit(stack, self._max_request_bytes)
        return ObservabilityMiddleware(stack, self._metrics, self.lifecycle, self._access_log)

    def build_fastapi_stack(self) -> ASGIApp:
        """FastAPI's own middleware stack and routing, inside the body limit and observability."""
        return super().build_middleware_stack()
