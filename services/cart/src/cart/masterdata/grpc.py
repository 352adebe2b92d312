"""Master data over gRPC: ItemService.BatchGetItemDetails and PaymentMethodService."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from datetime import UTC
from typing import TypeVar

from grpc import aio

from cart.domain.model import TaxRule
from cart.domain.operations import ItemInfo, PaymentMethodInfo
from cart.masterdata.changes import (
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
from cart.masterdata.failures import bad_answer, classify_grpc
from cart.masterdata.grpc_channels import SteeredChannel, call_metadata, health_status
from cart.masterdata.repository import ItemLookup, TaxRuleMemo, in_batches, tax_rule
from cart.masterdata.retries import Retrier
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
from pos_commons.tax import ROUNDING_METHODS, TAX_TYPES
from pos_commons.transport import Transport

T = TypeVar("T")

_SERVING = 1  # grpc.health.v1 HealthCheckResponse.SERVING


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


def _error_code(error: aio.AioRpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == ERROR_CODE_KEY:
            return value if isinstance(value, str) else value.decode("latin-1")
    return ""


class Stubs:
    """The stubs of one channel."""

    def __init__(self, channel: aio.Channel) -> None:
        self.channel = channel
        self.items = item_service_pb2_grpc.ItemServiceStub(channel)
        self.payments = payment_method_service_pb2_grpc.PaymentMethodServiceStub(channel)
        self.feed = catalog_feed_service_pb2_grpc.CatalogFeedServiceStub(channel)


class GrpcMasterDataRepository:
    transport = Transport.GRPC

    def __init__(
        self, channel: aio.Channel | SteeredChannel, service_token: str, retrier: Retrier
    ) -> None:
        """`channel`: where calls go (a plain channel: every call over it)."""
        self._channels = channel if isinstance(channel, SteeredChannel) else SteeredChannel(channel)
        self._checked = Stubs(self._channels.checked)
        self._unchecked: Stubs | None = None
        self._token = service_token
        self._retrier = retrier
        self._tax_rules = TaxRuleMemo()

    def _stubs(self) -> Stubs:
        """The stubs of the channel this call goes over (SteeredChannel)."""
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
                raise classify_grpc(exc.code(), _error_code(exc), exc.details() or "") from exc

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
                    raise bad_answer(f"malformed item detail: {exc!r}") from exc
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
                    raise bad_answer(f"malformed catalog feed message: {exc!r}") from exc
                yield message
        except aio.AioRpcError as exc:
            raise classify_grpc(exc.code(), _error_code(exc), exc.details() or "") from exc
        finally:
            call.cancel()

    async def ready(self) -> bool:
        try:
            status = await health_status(
                self._channels.pick(), deadline_seconds=self._retrier.budget_seconds
            )
        except aio.AioRpcError:
            return False
        return status == _SERVING

    async def close(self) -> None:
        await self._channels.close(grace_seconds=1.0)
