"""master-data's FastAPI app: routers, error handling, and the lifespan that owns resources.

The lifespan opens MongoDB, bootstraps the tenant registry, starts the gRPC server when
USE_GRPC is on (same process, same event loop) and undoes all of it, once, on shutdown.
`app.lifecycle` carries the drain that SIGTERM starts (pos_commons.lifecycle).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from master_data.api import (
    bulk,
    catalog_feed,
    catalog_routes,
    item_details,
    store_prices,
    system,
    tenants,
)
from master_data.api.hot_path import HotPathApp
from master_data.grpc_api.server import GrpcServer
from master_data.resources import build_resources
from master_data.settings import MasterDataSettings
from pos_commons.admission import AdmissionLimits
from pos_commons.auth import TokenVerifier
from pos_commons.exposure import Exposure
from pos_commons.lifecycle import Lifecycle
from pos_commons.metrics import HttpMetrics, register_cache_metrics, service_registry
from pos_commons.service_app import ServiceApp
from pos_commons.tracing import Tracing

_log = logging.getLogger(__name__)


def create_app(
    settings: MasterDataSettings | None = None, tracing: Tracing | None = None
) -> ServiceApp:
    """`tracing`: the process's (pos_commons.tracing.start_tracing), when it is on."""
    settings = settings or MasterDataSettings()
    admin_token, service_token = settings.resolved_tokens()
    verifier = TokenVerifier(admin_token, service_token)
    registry = service_registry()
    metrics = HttpMetrics(registry)
    lifecycle = Lifecycle()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = build_resources(settings, verifier, registry, tracing)
        register_cache_metrics(registry, "item_detail", resources.detail_cache)
        grpc_server: GrpcServer | None = None
        try:
            await resources.tenants.setup()
            await resources.feed.start(within_seconds=settings.mongodb_timeout_seconds)
            lifecycle.on_drain(resources.feed.drain)
            app.state.resources = resources
            if settings.use_grpc:
                grpc_server = GrpcServer(resources, lifecycle, tracing)
                await grpc_server.start()
            _log.info(
                "master-data ready (HTTP port %s, gRPC %s)",
                settings.master_data_http_port,
                f"port {settings.grpc_port}" if settings.use_grpc else "off",
            )
            yield
        finally:
            # Feed streams end first: they would hold the gRPC server's grace period.
            resources.feed.drain()
            if grpc_server is not None:
                await grpc_server.stop()
            await resources.close()

    app = HotPathApp(
        metrics=metrics,
        access_log=settings.access_log,
        max_request_bytes=settings.max_request_bytes,
        lifecycle=lifecycle,
        exposure=Exposure.from_settings(settings),
        admission=AdmissionLimits.of(settings, exempt=catalog_feed.is_feed_path),
        tracing=tracing,
        untraced=catalog_feed.is_feed_path,
        hot_routes=item_details.ROUTES,
        title="master-data",
        version="1.0.0",
        description="Items, store prices, categories, tax rules and payment methods.",
        lifespan=lifespan,
    )
    app.state.token_verifier = verifier
    item_details.document(app)
    app.add_routers(
        system.router,
        tenants.router,
        *catalog_routes.ROUTERS,
        store_prices.router,
        bulk.router,
        catalog_feed.router,
    )
    return app
