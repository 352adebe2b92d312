"""Master data over gRPC: ItemService.BatchGetItemDetails, PaymentMethodService and the
catalog feed (CatalogFeedService.WatchCatalog), over one grpc.aio channel per process.

The channel multiplexes every concurrent call over HTTP/2; a channel per request (what the
system we rebuild did) pays a TCP and HTTP/2 handshake each time and leaks file descriptors.
It keeps its connections alive, reconnects within a second or two after master-data restarts,
and checks every backend's health, so a replica that drains before it stops gets no new calls
while another one is SERVING. When none is (a lone master-data draining, or every replica at
once), calls go over a second channel to the same target without the check
(`MasterDataChannel`): a draining replica still serves, so refusing every call until it has
gone would fail calls that it would have answered. This is Envoy's "panic routing".

What grpc.aio raises becomes one of the failure table's kinds in one place (`_failure`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cart.domain.model import TaxRule
from cart.domain.operations import ItemInfo, PaymentMethodInfo
from cart.masterdata.failures import Failure, MasterDataError, Retrier, by_code, failure
from cart.masterdata.feed.changes import (
    CatalogChange,
    ChangeKind,
    ChangeValue,
    FeedMessage,
    Heartbeat,
    ItemRecord,
    StartOver,
    StorePriceRecord,
    StoreRecord,
)
from cart.masterdata.repository import ItemLookup, TaxRuleMemo, in_batches, tax_rule
from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    catalog_feed_service_pb2,
    catalog_feed_service_pb2_grpc,
    common_pb2,
    item_service_pb2,
    item_service_pb2_grpc,
    payment_method_service_pb2,
    payment_method_service_pb2_grpc,
)
from pos_commons.grpc_trailers import CACHE_CONTROL_KEY, ERROR_CODE_KEY, NO_CACHE
from pos_commons.money import parse_decimal
from pos_commons.request_context import REQUEST_ID_HEADER, request_id_var
from pos_commons.tax import ROUNDING_METHODS, TAX_TYPES
from pos_commons.transport import Transport

T = TypeVar("T")


def _tax_rule_from_message(rule: common_pb2.TaxRule) -> TaxRule:
    return tax_rule(
        tax_code=rule.tax_code,
        name=rule.name,
        tax_type=TAX_TYPES[rule.tax_type],
        rate=parse_decimal(rule.rate),
        rounding_digits=rule.rounding_digits,
        rounding_method=ROUNDING_METHODS[rule.rounding_method],
    )


def item_from_message(item: item_service_pb2.ItemDetail, rules: TaxRuleMemo) -> ItemInfo:
    rule = item.tax_rule
    raw_rule = (
        rule.tax_code,
        rule.name,
        rule.tax_type,
        rule.rate,
        rule.rounding_digits,
        rule.rounding_method,
    )
    return ItemInfo(
        item_code=item.item_code,
        description=item.description,
        short_description=item.short_description,
        category_code=item.category_code,
        effective_price=parse_decimal(item.effective_price),
        is_discount_restricted=item.is_discount_restricted,
        is_deleted=item.is_deleted,
        tax_rule=rules.get(raw_rule, lambda: _tax_rule_from_message(rule)),
        unit_price=parse_decimal(item.unit_price),
        store_price=parse_decimal(item.store_price) if item.HasField("store_price") else None,
    )


def _payment_method_from_message(
    method: payment_method_service_pb2.PaymentMethod,
) -> PaymentMethodInfo:
    return PaymentMethodInfo(
        payment_code=method.payment_code,
        name=method.name,
        can_give_change=method.can_give_change,
        can_exceed_balance=method.can_exceed_balance,
        is_active=method.is_active,
    )


_KINDS = {
    catalog_feed_service_pb2.CATALOG_CHANGE_KIND_ITEM: ChangeKind.ITEM,
    catalog_feed_service_pb2.CATALOG_CHANGE_KIND_STORE_PRICE: ChangeKind.STORE_PRICE,
    catalog_feed_service_pb2.CATALOG_CHANGE_KIND_TAX_RULE: ChangeKind.TAX_RULE,
    catalog_feed_service_pb2.CATALOG_CHANGE_KIND_PAYMENT_METHOD: ChangeKind.PAYMENT_METHOD,
    catalog_feed_service_pb2.CATALOG_CHANGE_KIND_STORE: ChangeKind.STORE,
}
_KEY_FIELDS = ("item_code", "store_code", "tax_code", "payment_code")


def _change_value(change: catalog_feed_service_pb2.CatalogChange) -> ChangeValue:
    which = change.WhichOneof("value")
    if which == "item":
        item = change.item
        return ItemRecord(
            item_code=item.item_code,
            description=item.description,
            short_description=item.short_description,
            category_code=item.category_code,
            tax_code=item.tax_code,
            unit_price=parse_decimal(item.unit_price),
            is_discount_restricted=item.is_discount_restricted,
            is_deleted=item.is_deleted,
        )
    if which == "store_price":
        price = change.store_price
        return StorePriceRecord(price.store_code, price.item_code, parse_decimal(price.price))
    if which == "tax_rule":
        return _tax_rule_from_message(change.tax_rule)
    if which == "payment_method":
        return _payment_method_from_message(change.payment_method)
    if which == "store":
        return StoreRecord(change.store.store_code)
    raise ValueError("a change without its value")


def feed_message_from_proto(message: catalog_feed_service_pb2.WatchCatalogResponse) -> FeedMessage:
    """A catalog feed message from its gRPC form (master-data's grpc_api/mapping.py)."""
    if not message.token:
        raise ValueError("a message without a token")
    which = message.WhichOneof("message")
    if which == "heartbeat":
        return Heartbeat(message.token)
    if which == "start_over":
        return StartOver(message.token, message.start_over.reason)
    if which != "change":
        raise ValueError(f"unknown message {which!r}")
    change = message.change
    key = {field: getattr(change.key, field) for field in _KEY_FIELDS}
    return CatalogChange(
        kind=_KINDS[change.kind],
        key={field: value for field, value in key.items() if value},
        value=None if change.deleted else _change_value(change),
        changed_at=change.changed_at.ToDatetime(tzinfo=UTC),
        token=message.token,
    )


@dataclass(frozen=True)
class ChannelSettings:
    keepalive_time_ms: int = 30_000
    keepalive_timeout_ms: int = 10_000
    # After master-data restarts, reconnect within a second or two, not gRPC's default 120 s.
    reconnect_backoff_initial_ms: int = 250
    reconnect_backoff_max_ms: int = 2_000
    load_balancing: str = "round_robin"
    health_check_service: str = ""
    """grpc.health.v1 service the channel watches on every backend: a backend that is not
    SERVING (master-data draining before it stops) gets no new calls while others do."""
    unchecked_idle_ms: int = 10_000
    """The channel without health checking closes its connections after this long without a
    call: it is used only while no backend is SERVING."""


def service_config(settings: ChannelSettings, health_checked: bool = True) -> dict[str, Any]:
    """Round-robin over every address of the target, skipping backends that are not SERVING
    (unless not `health_checked`).

    No retry policy here: the caller retries what may be retried (cart: one retry loop for
    both transports, docs/architecture.md). gRPC's transparent retries, of calls that never
    left the client, stay on (`grpc.enable_retries`).

    No "timeout" either: with grpcio 1.85, a service-config timeout below about two seconds
    failed every call at once with DEADLINE_EXCEEDED (seen while building this; the call
    reached no server). Every call passes its own deadline instead (cart: GRPC_TIMEOUT).
    """
    config: dict[str, Any] = {"loadBalancingConfig": [{settings.load_balancing: {}}]}
    if health_checked:
        config["healthCheckConfig"] = {"serviceName": settings.health_check_service}
    return config


def channel_options(
    settings: ChannelSettings, health_checked: bool = True
) -> list[tuple[str, Any]]:
    idle: list[tuple[str, Any]] = []
    if not health_checked:
        idle = [("grpc.client_idle_timeout_ms", settings.unchecked_idle_ms)]
    return [
        *idle,
        ("grpc.service_config", json.dumps(service_config(settings, health_checked))),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", settings.keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", settings.keepalive_timeout_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.initial_reconnect_backoff_ms", settings.reconnect_backoff_initial_ms),
        ("grpc.min_reconnect_backoff_ms", settings.reconnect_backoff_initial_ms),
        ("grpc.max_reconnect_backoff_ms", settings.reconnect_backoff_max_ms),
        ("grpc.dns_min_time_between_resolutions_ms", 5_000),
    ]


class MasterDataChannel:
    """Where a call to master-data goes: over the health-checked channel, unless none of its
    backends is SERVING (the channel is in TRANSIENT_FAILURE); then over the channel without
    the check, dialled on first need.

    A replica that drains is skipped as long as another one serves; when all are draining,
    they still serve, and a call that meets one that has stopped accepting fails as it would
    have anyway (UNAVAILABLE, retried). When master-data is down altogether both channels
    fail alike. The state is read on every call (cheap: docs/performance.md), so the unchecked
    channel is left as soon as a backend is SERVING again, and idles out
    (`ChannelSettings.unchecked_idle_ms`).
    """

    def __init__(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None = None,
        interceptors: Sequence[aio.ClientInterceptor] = (),
        settings: ChannelSettings | None = None,
    ) -> None:
        """Over TLS with `credentials` (pos_commons.tls), else plaintext; `interceptors` on
        both channels (pos_commons.instrumentation's, when tracing)."""
        self._target = target
        self._credentials = credentials
        self._interceptors = list(interceptors) or None
        self.settings = settings or ChannelSettings()
        self.checked = self._dial(health_checked=True)
        self.unchecked: aio.Channel | None = None
        self._closed = False

    def _dial(self, *, health_checked: bool) -> aio.Channel:
        options = channel_options(self.settings, health_checked)
        if self._credentials is None:
            return aio.insecure_channel(
                self._target, options=options, interceptors=self._interceptors
            )
        return aio.secure_channel(
            self._target, self._credentials, options=options, interceptors=self._interceptors
        )

    def pick(self) -> aio.Channel:
        if self._closed:
            raise RuntimeError("the master-data channel is closed")
        if self.checked.get_state() is not grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            return self.checked
        if self.unchecked is None:
            self.unchecked = self._dial(health_checked=False)
        return self.unchecked

    async def close(self, grace_seconds: float | None = 1.0) -> None:
        """Closes both channels, once."""
        if self._closed:
            return
        self._closed = True
        await self.checked.close(grace_seconds)
        if self.unchecked is not None:
            await self.unchecked.close(grace_seconds)


def call_metadata(token: str) -> Sequence[tuple[str, str]]:
    """The metadata of a call to another service: its bearer token and our request id."""
    return (("authorization", f"Bearer {token}"), (REQUEST_ID_HEADER, request_id_var.get()))


async def health_status(
    channel: aio.Channel, service: str = "", deadline_seconds: float = 1.0
) -> int:
    """The grpc.health.v1 status of `service` (HealthCheckResponse.ServingStatus), asked
    through grpc_health's own stub."""
    # grpc_health ships no type stubs for its service module: its method is typed here.
    check: Callable[..., Awaitable[health_pb2.HealthCheckResponse]]
    check = health_pb2_grpc.HealthStub(channel).Check  # type: ignore[attr-defined]
    response = await check(health_pb2.HealthCheckRequest(service=service), timeout=deadline_seconds)
    return int(response.status)


_GRPC_STATUS = {
    grpc.StatusCode.UNAUTHENTICATED: Failure.REJECTED_CREDENTIALS,
    grpc.StatusCode.PERMISSION_DENIED: Failure.REJECTED_CREDENTIALS,
    grpc.StatusCode.UNAVAILABLE: Failure.UNAVAILABLE,
    # grpc's own concurrency limit (maximum_concurrent_rpcs) or a proxy's, without our code.
    grpc.StatusCode.RESOURCE_EXHAUSTED: Failure.OVERLOADED,
    # A call cancelled by the other side: the server went away under it (a call cart cancels
    # itself raises asyncio.CancelledError instead).
    grpc.StatusCode.CANCELLED: Failure.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: Failure.TOO_SLOW,
}


def _failure(error: aio.AioRpcError) -> MasterDataError:
    """A failed call, by master-data's `x-error-code` trailer first, then its status."""
    code = ""
    for key, value in error.trailing_metadata() or ():
        if key == ERROR_CODE_KEY:
            code = value if isinstance(value, str) else value.decode("latin-1")
            break
    status = error.code()
    details = error.details() or ""
    kind = by_code(code)
    if kind is Failure.NOT_FOUND and status is not grpc.StatusCode.NOT_FOUND:
        kind = None
    kind = kind or _GRPC_STATUS.get(status, Failure.BAD_ANSWER)
    seen = f"{status.name} {code} {details}".strip()
    return failure(kind, seen, code=code, message=details)


class Stubs:
    """The stubs of one channel."""

    def __init__(self, channel: aio.Channel) -> None:
        self.channel = channel
        self.items = item_service_pb2_grpc.ItemServiceStub(channel)
        self.payments = payment_method_service_pb2_grpc.PaymentMethodServiceStub(channel)
        self.feed = catalog_feed_service_pb2_grpc.CatalogFeedServiceStub(channel)


class GrpcMasterDataRepository:
    transport = Transport.GRPC

    def __init__(self, channel: MasterDataChannel, service_token: str, retrier: Retrier) -> None:
        self._channels = channel
        self._checked = Stubs(self._channels.checked)
        self._unchecked: Stubs | None = None
        self._token = service_token
        self._retrier = retrier
        self._tax_rules = TaxRuleMemo()

    def _stubs(self) -> Stubs:
        """The stubs of the channel this call goes over (MasterDataChannel.pick)."""
        channel = self._channels.pick()
        if channel is self._checked.channel:
            return self._checked
        if self._unchecked is None or self._unchecked.channel is not channel:
            self._unchecked = Stubs(channel)
        return self._unchecked

    def _call(self, send: Callable[[Stubs, float], Awaitable[T]]) -> Awaitable[T]:
        async def attempt(seconds: float) -> T:
            try:
                return await send(self._stubs(), seconds)
            except aio.AioRpcError as exc:
                raise _failure(exc) from exc

        return self._retrier.call(attempt)

    def _metadata(self, fresh: bool) -> Sequence[tuple[str, str]]:
        metadata = call_metadata(self._token)
        return (*metadata, (CACHE_CONTROL_KEY, NO_CACHE)) if fresh else metadata

    async def get_items(
        self, tenant_id: str, store_code: str, codes: Sequence[str], *, fresh: bool = False
    ) -> ItemLookup:
        def look_up(batch: Sequence[str]) -> Awaitable[ItemLookup]:
            request = item_service_pb2.BatchGetItemDetailsRequest(
                tenant_id=tenant_id, store_code=store_code, item_codes=batch
            )

            async def send(stubs: Stubs, seconds: float) -> ItemLookup:
                response = await stubs.items.BatchGetItemDetails(
                    request, timeout=seconds, metadata=self._metadata(fresh)
                )
                try:
                    items = [item_from_message(item, self._tax_rules) for item in response.items]
                except (KeyError, ValueError) as exc:
                    seen = f"malformed item detail: {exc!r}"
                    raise failure(Failure.BAD_ANSWER, seen) from exc
                found = {info.item_code: info for info in items}
                return ItemLookup(found, list(response.not_found_item_codes))

            return self._call(send)

        return await in_batches(codes, look_up)

    async def get_payment_method(
        self, tenant_id: str, payment_code: str, *, fresh: bool = False
    ) -> PaymentMethodInfo:
        request = payment_method_service_pb2.GetPaymentMethodRequest(
            tenant_id=tenant_id, payment_code=payment_code
        )

        async def send(stubs: Stubs, seconds: float) -> PaymentMethodInfo:
            response = await stubs.payments.GetPaymentMethod(
                request, timeout=seconds, metadata=self._metadata(fresh)
            )
            return _payment_method_from_message(response.payment_method)

        return await self._call(send)

    async def watch_catalog(
        self, tenant_id: str, token: str | None
    ) -> AsyncGenerator[FeedMessage, None]:
        # No deadline: the stream lasts; the channel's keepalive and the reader's idle
        # timeout notice a peer that went silent.
        call = self._stubs().feed.WatchCatalog(
            catalog_feed_service_pb2.WatchCatalogRequest(
                tenant_id=tenant_id, resume_token=token or ""
            ),
            metadata=call_metadata(self._token),
        )
        try:
            async for response in call:
                try:
                    message = feed_message_from_proto(response)
                except (KeyError, ValueError) as exc:
                    seen = f"malformed catalog feed message: {exc!r}"
                    raise failure(Failure.BAD_ANSWER, seen) from exc
                yield message
        except aio.AioRpcError as exc:
            raise _failure(exc) from exc
        finally:
            call.cancel()

    async def ready(self) -> bool:
        """Whether master-data says it is SERVING (grpc.health.v1, its whole server)."""
        try:
            status = await health_status(
                self._channels.pick(), deadline_seconds=self._retrier.budget_seconds
            )
        except aio.AioRpcError:
            return False
        return status == health_pb2.HealthCheckResponse.SERVING

    async def close(self) -> None:
        await self._channels.close(grace_seconds=1.0)
