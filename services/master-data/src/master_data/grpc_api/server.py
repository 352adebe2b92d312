"""The grpc.aio server master-data runs inside its FastAPI lifespan, on the same event loop.

Besides ItemService and PaymentMethodService it serves grpc.health.v1 (NOT_SERVING while
MongoDB does not answer) and server reflection, so grpcurl and buf curl work without the
.proto files. Stopping gives in-flight calls a grace period to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from master_data.grpc_api.servicers import ItemServicer, PaymentMethodServicer
from master_data.resources import MasterDataResources
from pos_commons.grpc_server import SERVER_OPTIONS, AccessLogInterceptor
from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    item_service_pb2,
    item_service_pb2_grpc,
    payment_method_service_pb2,
    payment_method_service_pb2_grpc,
)

_log = logging.getLogger(__name__)

SERVICE_NAMES = (
    item_service_pb2.DESCRIPTOR.services_by_name["ItemService"].full_name,
    payment_method_service_pb2.DESCRIPTOR.services_by_name["PaymentMethodService"].full_name,
)
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class GrpcServer:
    def __init__(self, resources: MasterDataResources) -> None:
        self._resources = resources
        settings = resources.settings
        self.address = f"{settings.bind_host}:{settings.grpc_port}"
        self.health = health.aio.HealthServicer()
        # Tokens are checked by the servicers (health and reflection stay open to tools).
        self.server = aio.server(
            interceptors=[AccessLogInterceptor()] if settings.access_log else [],
            options=SERVER_OPTIONS,
        )
        item_service_pb2_grpc.add_ItemServiceServicer_to_server(
            ItemServicer(resources.item_details, resources.verifier), self.server
        )
        payment_method_service_pb2_grpc.add_PaymentMethodServiceServicer_to_server(
            PaymentMethodServicer(resources.catalog.payment_methods, resources.verifier),
            self.server,
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self._monitor: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.server.add_insecure_port(self.address) == 0:
            raise RuntimeError(f"cannot listen for gRPC on {self.address}")
        await self.server.start()
        await self._set_health(await self._resources.mongo.ping())
        self._monitor = asyncio.create_task(self._watch_database(), name="grpc-health-monitor")
        _log.info("gRPC server listening on %s", self.address)

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self._resources.settings.grpc_shutdown_grace_seconds)
        _log.info("gRPC server stopped")

    async def _set_health(self, database_ok: bool) -> None:
        status = _SERVING if database_ok else _NOT_SERVING
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)

    async def _watch_database(self) -> None:
        interval = self._resources.settings.health_probe_interval_seconds
        was_ok: bool | None = None
        while True:
            ok = await self._resources.mongo.ping(timeout_seconds=min(interval, 2.0))
            if ok != was_ok:
                await self._set_health(ok)
                if was_ok is not None:
                    _log.warning(
                        "MongoDB %s; gRPC health set accordingly",
                        "reachable again" if ok else "unreachable",
                    )
                was_ok = ok
            await asyncio.sleep(interval)
