"""cart's FastAPI app and the lifespan that builds (and closes, once) everything it uses.

The master-data repository is chosen here, once, from USE_GRPC: its channel or HTTP client is
created with it and closed with it. Nothing is built per request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cart.api import carts, system, terminals
from cart.resources import build_resources
from cart.settings import CartSettings
from pos_commons.admission import AdmissionLimits
from pos_commons.auth import TokenVerifier
from pos_commons.exposure import Exposure
from pos_commons.lifecycle import Lifecycle
from pos_commons.metrics import HttpMetrics, service_registry
from pos_commons.service_app import ServiceApp
from pos_commons.tracing import Tracing

_log = logging.getLogger(__name__)


def create_app(settings: CartSettings | None = None, tracing: Tracing | None = None) -> ServiceApp:
    """`tracing`: the process's (pos_commons.tracing.start_tracing), when it is on."""
    settings = settings or CartSettings()
    admin_token, service_token = settings.resolved_tokens()
    verifier = TokenVerifier(admin_token, service_token)
    registry = service_registry()
    metrics = HttpMetrics(registry)
    lifecycle = Lifecycle()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = build_resources(settings, verifier, service_token, registry, tracing)
        try:
            await resources.terminal_store.setup()
            app.state.resources = resources
            _log.info(
                "cart ready (HTTP port %s, master data over %s)",
                settings.cart_http_port,
                resources.master_data.transport,
            )
            yield
        finally:
            await resources.close()

    app = ServiceApp(
        metrics=metrics,
        access_log=settings.access_log,
        max_request_bytes=settings.max_request_bytes,
        lifecycle=lifecycle,
        exposure=Exposure.from_settings(settings),
        admission=AdmissionLimits.of(settings),
        tracing=tracing,
        title="cart",
        version="1.0.0",
        description="The POS cart API. Master data comes over HTTP or gRPC (USE_GRPC).",
        lifespan=lifespan,
    )
    app.state.token_verifier = verifier
    app.add_routers(carts.router, terminals.router, system.router)
    return app
