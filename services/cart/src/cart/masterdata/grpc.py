"""Master data over gRPC: ItemService.BatchGetItemDetails and PaymentMethodService."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

import grpc
from grpc import aio

from cart.domain.model import RoundingMethod, TaxType
from cart.domain.operations import ItemInfo, PaymentMethodInfo
from cart.masterdata.repository import (
    NOT_FOUND_CODES,
    ItemLookup,
    bad_answer,
    tax_rule,
    too_slow,
    unavailable,
    upstream_not_found,
)
from pos_commons.errors import AppError
from pos_commons.grpc_channels import call_metadata, health_status
from pos_commons.grpc_server import ERROR_CODE_KEY
from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    common_pb2,
    item_service_pb2,
    item_service_pb2_grpc,
    payment_method_service_pb2,
    payment_method_service_pb2_grpc,
)
from pos_commons.money import parse_decimal

BATCH_LIMIT = 100
_SERVING = 1  # grpc.health.v1 HealthCheckResponse.SERVING

TAX_TYPES = {
    common_pb2.TAX_TYPE_EXTERNAL: TaxType.EXTERNAL,
    common_pb2.TAX_TYPE_INTERNAL: TaxType.INTERNAL,
    common_pb2.TAX_TYPE_EXEMPT: TaxType.EXEMPT,
}
ROUNDING_METHODS = {
    common_pb2.ROUNDING_METHOD_HALF_UP: RoundingMethod.HALF_UP,
    common_pb2.ROUNDING_METHOD_DOWN: RoundingMethod.DOWN,
    common_pb2.ROUNDING_METHOD_UP: RoundingMethod.UP,
    common_pb2.ROUNDING_METHOD_HALF_EVEN: RoundingMethod.HALF_EVEN,
}


def item_from_message(item: item_service_pb2.ItemDetail) -> ItemInfo:
    rule = item.tax_rule
    return ItemInfo(
        item_code=item.item_code,
        description=item.description,
        short_description=item.short_description,
        category_code=item.category_code,
        effective_price=parse_decimal(item.effective_price),
        is_discount_restricted=item.is_discount_restricted,
        is_deleted=item.is_deleted,
        tax_rule=tax_rule(
            tax_code=rule.tax_code,
            name=rule.name,
            tax_type=TAX_TYPES[rule.tax_type],
            rate=parse_decimal(rule.rate),
            rounding_digits=rule.rounding_digits,
            rounding_method=ROUNDING_METHODS[rule.rounding_method],
        ),
        store_code=item.store_code,
        unit_price=parse_decimal(item.unit_price),
        store_price=parse_decimal(item.store_price) if item.HasField("store_price") else None,
        created_at=item.created_at.ToDatetime(tzinfo=UTC),
        updated_at=item.updated_at.ToDatetime(tzinfo=UTC),
    )


def _mapped(error: aio.AioRpcError, timeout: float) -> AppError:
    """The same error the web repository would raise for the same failure."""
    status = error.code()
    trailing = dict(error.trailing_metadata() or ())
    code = trailing.get(ERROR_CODE_KEY)
    if status == grpc.StatusCode.NOT_FOUND and code in NOT_FOUND_CODES:
        return upstream_not_found(str(code), error.details() or str(code))
    if status == grpc.StatusCode.UNAVAILABLE:
        return unavailable(error.details() or "UNAVAILABLE")
    if status == grpc.StatusCode.DEADLINE_EXCEEDED:
        return too_slow(timeout)
    return bad_answer(f"{status.name} {code or ''} {error.details() or ''}".strip())


class GrpcMasterDataRepository:
    transport = "grpc"

    def __init__(self, channel: aio.Channel, service_token: str, timeout_seconds: float) -> None:
        self._channel = channel
        self._items = item_service_pb2_grpc.ItemServiceStub(channel)
        self._payments = payment_method_service_pb2_grpc.PaymentMethodServiceStub(channel)
        self._token = service_token
        self._timeout = timeout_seconds

    async def get_items(self, tenant_id: str, store_code: str, codes: Sequence[str]) -> ItemLookup:
        found: dict[str, ItemInfo] = {}
        missing: list[str] = []
        for start in range(0, len(codes), BATCH_LIMIT):
            request = item_service_pb2.BatchGetItemDetailsRequest(
                tenant_id=tenant_id,
                store_code=store_code,
                item_codes=codes[start : start + BATCH_LIMIT],
            )
            try:
                response = await self._items.BatchGetItemDetails(
                    request, timeout=self._timeout, metadata=call_metadata(self._token)
                )
            except aio.AioRpcError as exc:
                raise _mapped(exc, self._timeout) from exc
            try:
                for item in response.items:
                    info = item_from_message(item)
                    found[info.item_code] = info
            except (KeyError, ValueError) as exc:
                raise bad_answer(f"malformed item detail: {exc!r}") from exc
            missing.extend(response.not_found_item_codes)
        return ItemLookup(found, missing)

    async def get_payment_method(self, tenant_id: str, payment_code: str) -> PaymentMethodInfo:
        request = payment_method_service_pb2.GetPaymentMethodRequest(
            tenant_id=tenant_id, payment_code=payment_code
        )
        try:
            response = await self._payments.GetPaymentMethod(
                request, timeout=self._timeout, metadata=call_metadata(self._token)
            )
        except aio.AioRpcError as exc:
            raise _mapped(exc, self._timeout) from exc
        method = response.payment_method
        return PaymentMethodInfo(
            payment_code=method.payment_code,
            name=method.name,
            can_give_change=method.can_give_change,
            can_exceed_balance=method.can_exceed_balance,
            is_active=method.is_active,
        )

    async def ready(self) -> bool:
        try:
            return await health_status(self._channel, deadline_seconds=self._timeout) == _SERVING
        except aio.AioRpcError:
            return False

    async def close(self) -> None:
        """The channel belongs to the pool, which closes it."""
