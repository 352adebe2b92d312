"""The grpc.aio server master-data runs inside its FastAPI lifespan, on the same event loop.

Besides ItemService, PaymentMethodService and CatalogFeedService it serves grpc.health.v1 and
server reflection, so grpcurl and buf curl work without the .proto files. Health says two things:

- `""` (the server as a whole): SERVING while it takes calls; NOT_SERVING from SIGTERM on
  (the drain, pos_commons.lifecycle), though every call is still served until the drain is
  over. cart's channels watch this one on every replica, so a replica that is about to stop
  gets no new calls while another is SERVING (cart/masterdata/grpc_adapter.py).
- each service's name: also NOT_SERVING while MongoDB has no writable server (a cached lookup
  still answers; an uncached one gets UNAVAILABLE with x-error-code DATABASE_UNAVAILABLE).

With TLS_CERT_FILE it listens with TLS only (and with TLS_CLIENT_CA_FILE asks every client for
a certificate), like the HTTP port. Lookups are bounded (GRPC_MAX_CONCURRENT_RPCS) and stop
being taken on at the stop, each refused with UNAVAILABLE (admission.py); the calls in flight
get GRPC_SHUTDOWN_GRACE_SECONDS to finish.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from master_data.grpc_api.admission import CallGate
from master_data.grpc_api.calls import AccessLogInterceptor
from master_data.grpc_api.servicers import (
    CatalogFeedServicer,
    GrpcCallMetrics,
    ItemServicer,
    PaymentMethodServicer,
)
from master_data.resources import MasterDataResources
from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    catalog_feed_service_pb2,
    catalog_feed_service_pb2_grpc,
    item_service_pb2,
    item_service_pb2_grpc,
    payment_method_service_pb2,
    payment_method_service_pb2_grpc,
)
from pos_commons.instrumentation import grpc_server_interceptors
from pos_commons.lifecycle import Lifecycle
from pos_commons.tracing import Tracing

_log = logging.getLogger(__name__)

SERVICE_NAMES = (
    item_service_pb2.DESCRIPTOR.services_by_name["ItemService"].full_name,
    payment_method_service_pb2.DESCRIPTOR.services_by_name["PaymentMethodService"].full_name,
    catalog_feed_service_pb2.DESCRIPTOR.services_by_name["CatalogFeedService"].full_name,
)
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


SERVER_OPTIONS: list[tuple[str, Any]] = [
    # Accept the clients' keepalive pings (cart pings every 30 s, also when idle).
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 2),
    # Ping idle clients so half-open connections are noticed.
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    # Reconnecting every few minutes makes clients re-resolve DNS, so replicas added by
    # `docker compose up --scale` start receiving calls.
    ("grpc.max_connection_age_ms", 300_000),
    ("grpc.max_connection_age_grace_ms", 30_000),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
]


def listen_address(host: str, port: int) -> str:
    """host:port for add_insecure_port, with an IPv6 address in brackets ([::1]:50051)."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


class GrpcServer:
    def __init__(
        self,
        resources: MasterDataResources,
        lifecycle: Lifecycle,
        tracing: Tracing | None = None,
    ) -> None:
        self._resources = resources
        self._lifecycle = lifecycle
        settings = resources.settings
        self.address = listen_address(settings.bind_host, settings.grpc_port)
        self.health = health.aio.HealthServicer()
        # Tokens are checked by the servicers (health and reflection stay open to tools).
        # Tracing's interceptor first (outermost): the access log line is written inside the
        # call's span, so it carries the call's trace id.
        self.server = aio.server(
            interceptors=[
                *grpc_server_interceptors(tracing),
                *([AccessLogInterceptor()] if settings.access_log else []),
            ],
            options=SERVER_OPTIONS,
        )
        metrics = GrpcCallMetrics(resources.registry)
        self.gate = CallGate(settings.grpc_max_concurrent_rpcs)
        item_service_pb2_grpc.add_ItemServiceServicer_to_server(
            ItemServicer(resources.item_details, resources.verifier, metrics, self.gate),
            self.server,
        )
        payment_method_service_pb2_grpc.add_PaymentMethodServiceServicer_to_server(
            PaymentMethodServicer(
                resources.catalog.payment_methods, resources.verifier, metrics, self.gate
            ),
            self.server,
        )
        catalog_feed_service_pb2_grpc.add_CatalogFeedServiceServicer_to_server(
            CatalogFeedServicer(resources.feed, resources.verifier, metrics), self.server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self._database_ok = True
        self._updates: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        tls = self._resources.settings.server_tls
        if tls is None:
            port = self.server.add_insecure_port(self.address)
        else:
            port = self.server.add_secure_port(self.address, tls.grpc_credentials())
        if port == 0:
            raise RuntimeError(f"cannot listen for gRPC on {self.address}")
        await self.server.start()
        self._database_ok = await self._resources.mongo.ping()
        await self._publish()
        self._resources.mongo.availability.subscribe(self._on_database)
        self._lifecycle.on_drain(self._on_drain)
        _log.info(
            "gRPC server listening on %s (%s)",
            self.address,
            "plaintext" if tls is None else "mutual TLS" if tls.mutual else "TLS",
        )

    async def stop(self) -> None:
        """Stops taking calls: each that comes is refused with UNAVAILABLE (SHUTTING_DOWN),
        and those taken on get GRPC_SHUTDOWN_GRACE_SECONDS to finish.

        grpc's own `server.stop()` is not called: once its shutdown has begun, grpc core
        answers CANCELLED to every call that reaches it, queued or arriving (grpc/grpc#41785),
        which a client cannot tell from a cancellation of its own; a client sending nonstop
        got a few dozen. The listening socket and the connections close with the process,
        which follows at once: a call still under way then sees its connection close,
        UNAVAILABLE.
        """
        await self.health.enter_graceful_shutdown()
        grace = self._resources.settings.grpc_shutdown_grace_seconds
        await self.gate.stop_accepting(grace)
        if self.gate.active:
            _log.warning(
                "gRPC server stopped taking calls; %d still under way after %.1fs",
                self.gate.active,
                grace,
            )
        else:
            _log.info("gRPC server stopped taking calls; none under way")

    def _on_database(self, up: bool) -> None:
        self._database_ok = up
        self._schedule_publish()

    def _on_drain(self) -> None:
        self._schedule_publish()

    def _schedule_publish(self) -> None:
        task = asyncio.get_running_loop().create_task(self._publish())
        self._updates.add(task)
        task.add_done_callback(self._updates.discard)

    async def _publish(self) -> None:
        draining = self._lifecycle.draining
        await self.health.set("", _NOT_SERVING if draining else _SERVING)
        services = _SERVING if self._database_ok and not draining else _NOT_SERVING
        for name in SERVICE_NAMES:
            await self.health.set(name, services)
