"""The gRPC servicers: thin adapters over the same services the HTTP routes call."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc import aio
from prometheus_client import CollectorRegistry, Counter
from typing_extensions import override

from master_data.domain import ItemDetail
from master_data.grpc_api.admission import CallGate
from master_data.grpc_api.calls import abort_with, authorize_call, grpc_status_of
from master_data.grpc_api.mapping import (
    feed_message,
    item_detail_message,
    payment_method_message,
)
from master_data.identifiers import (
    check_code,
    check_item_codes,
    check_resume_token,
    check_tenant_id,
)
from master_data.services.catalog import PaymentMethodService
from master_data.services.catalog_feed import CatalogFeed, Subscription
from master_data.services.item_details import ItemDetailService
from pos_commons.auth import TokenVerifier
from pos_commons.errors import AppError
from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    catalog_feed_service_pb2,
    catalog_feed_service_pb2_grpc,
    item_service_pb2,
    item_service_pb2_grpc,
    payment_method_service_pb2,
    payment_method_service_pb2_grpc,
)
from pos_commons.grpc_trailers import CACHE_CONTROL_KEY, wants_fresh
from pos_commons.mongo import database_error

_log = logging.getLogger(__name__)

T = TypeVar("T")
Context = aio.ServicerContext[Any, Any]


def _check_ids(tenant_id: str, **codes: str) -> None:
    check_tenant_id(tenant_id)
    for field, value in codes.items():
        check_code(field.replace("_", " ").capitalize(), value)  # store_code: "Store code"


class GrpcCallMetrics:
    """Calls answered, by method and gRPC status (`grpc_server_handled_total`, /metrics).

    Counted by the servicers rather than a server interceptor, which costs a measurable
    share of a cached lookup (docs/performance.md has the figure).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._handled = Counter(
            "grpc_server_handled",
            "gRPC calls answered by master-data, by method and status.",
            ["method", "code"],
            registry=registry,
        )
        # labels() takes a lock and builds a key on every call; the children are reused.
        self._children: dict[tuple[str, grpc.StatusCode], Any] = {}

    def count(self, method: str, code: grpc.StatusCode) -> None:
        key = (method, code)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._handled.labels(method, code.name)
        child.inc()


class _InternalError(AppError):
    """What an unexpected exception leaves as: INTERNAL with INTERNAL_ERROR, as HTTP's 500."""


async def _abort(method: str, context: Context, metrics: GrpcCallMetrics, exc: Exception) -> None:
    """Ends the call with the gRPC status of what `exc` means (the HTTP API's status mapped,
    the same error code in trailing metadata)."""
    error = exc if isinstance(exc, AppError) else database_error(exc)
    if error is None:
        _log.error("unhandled error in %s", method, exc_info=exc)
        error = _InternalError("An unexpected error occurred.")
    metrics.count(method, grpc_status_of(error))
    await abort_with(context, error)
    raise AssertionError("abort_with always raises") from exc


async def _answer(
    method: str,
    context: Context,
    verifier: TokenVerifier,
    metrics: GrpcCallMetrics,
    gate: CallGate,
    produce: Callable[[], Awaitable[T]],
) -> T:
    """Takes the call on (or refuses it: `gate`), checks the caller's token, runs `produce`,
    and turns failures into gRPC statuses."""
    try:
        gate.enter()
        try:
            authorize_call(context, verifier)
            result = await produce()
        finally:
            gate.leave()
    except Exception as exc:
        await _abort(method, context, metrics, exc)
        raise
    metrics.count(method, grpc.StatusCode.OK)
    return result


def _fresh(context: Context) -> bool:
    """Whether the caller asked for the database's answer, not this process's cache."""
    return any(
        key == CACHE_CONTROL_KEY and wants_fresh(str(value))
        for key, value in context.invocation_metadata() or ()
    )


def _message(detail: ItemDetail) -> item_service_pb2.ItemDetail:
    # Protobuf messages are mutable, but these are only ever read (copied into responses).
    return detail.memo("grpc", item_detail_message)


class ItemServicer(item_service_pb2_grpc.ItemServiceServicer):
    def __init__(
        self,
        details: ItemDetailService,
        verifier: TokenVerifier,
        metrics: GrpcCallMetrics,
        gate: CallGate,
    ) -> None:
        self._details = details
        self._verifier = verifier
        self._metrics = metrics
        self._gate = gate

    @override
    async def GetItemDetail(
        self, request: item_service_pb2.GetItemDetailRequest, context: Context
    ) -> item_service_pb2.GetItemDetailResponse:
        async def produce() -> item_service_pb2.GetItemDetailResponse:
            _check_ids(
                request.tenant_id, store_code=request.store_code, item_code=request.item_code
            )
            detail = await self._details.get(
                request.tenant_id, request.store_code, request.item_code, fresh=_fresh(context)
            )
            return item_service_pb2.GetItemDetailResponse(item=_message(detail))

        return await _answer(
            "GetItemDetail", context, self._verifier, self._metrics, self._gate, produce
        )

    @override
    async def BatchGetItemDetails(
        self, request: item_service_pb2.BatchGetItemDetailsRequest, context: Context
    ) -> item_service_pb2.BatchGetItemDetailsResponse:
        async def produce() -> item_service_pb2.BatchGetItemDetailsResponse:
            _check_ids(request.tenant_id, store_code=request.store_code)
            codes = list(request.item_codes)
            check_item_codes(codes)
            batch = await self._details.get_many(
                request.tenant_id, request.store_code, codes, fresh=_fresh(context)
            )
            return item_service_pb2.BatchGetItemDetailsResponse(
                items=[_message(detail) for detail in batch.items],
                not_found_item_codes=batch.not_found_item_codes,
            )

        return await _answer(
            "BatchGetItemDetails", context, self._verifier, self._metrics, self._gate, produce
        )


class PaymentMethodServicer(payment_method_service_pb2_grpc.PaymentMethodServiceServicer):
    def __init__(
        self,
        payment_methods: PaymentMethodService,
        verifier: TokenVerifier,
        metrics: GrpcCallMetrics,
        gate: CallGate,
    ) -> None:
        self._payment_methods = payment_methods
        self._verifier = verifier
        self._metrics = metrics
        self._gate = gate

    @override
    async def GetPaymentMethod(
        self, request: payment_method_service_pb2.GetPaymentMethodRequest, context: Context
    ) -> payment_method_service_pb2.GetPaymentMethodResponse:
        async def produce() -> payment_method_service_pb2.GetPaymentMethodResponse:
            _check_ids(request.tenant_id, payment_code=request.payment_code)
            method = await self._payment_methods.get(
                request.tenant_id, {"payment_code": request.payment_code}, fresh=_fresh(context)
            )
            return payment_method_service_pb2.GetPaymentMethodResponse(
                payment_method=payment_method_message(method)
            )

        return await _answer(
            "GetPaymentMethod", context, self._verifier, self._metrics, self._gate, produce
        )


class CatalogFeedServicer(catalog_feed_service_pb2_grpc.CatalogFeedServiceServicer):
    """The catalog feed as a server stream: the same messages as the SSE endpoint."""

    def __init__(self, feed: CatalogFeed, verifier: TokenVerifier, metrics: GrpcCallMetrics):
        self._feed = feed
        self._verifier = verifier
        self._metrics = metrics

    async def _open(
        self, request: catalog_feed_service_pb2.WatchCatalogRequest, context: Context
    ) -> Subscription:
        try:
            authorize_call(context, self._verifier)
            check_tenant_id(request.tenant_id)
            token = check_resume_token(request.resume_token) if request.resume_token else None
            return await self._feed.open(request.tenant_id, token)
        except Exception as exc:
            await _abort("WatchCatalog", context, self._metrics, exc)
            raise

    @override
    async def WatchCatalog(
        self, request: catalog_feed_service_pb2.WatchCatalogRequest, context: Context
    ) -> AsyncIterator[catalog_feed_service_pb2.WatchCatalogResponse]:
        subscription = await self._open(request, context)
        try:
            async with contextlib.aclosing(subscription.messages()) as messages:
                async for message in messages:
                    yield feed_message(message)
        except Exception as exc:  # the database, during a catch-up
            await subscription.close()
            await _abort("WatchCatalog", context, self._metrics, exc)
        finally:
            await subscription.close()
        self._metrics.count("WatchCatalog", grpc.StatusCode.OK)
