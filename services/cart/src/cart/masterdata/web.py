"""Master data over HTTP/JSON: master-data's item-detail and payment-method endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

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
from pos_commons.http_clients import (
    HttpClient,
    RetryPolicy,
    UpstreamProtocolError,
    UpstreamResponse,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
    send_with_retry,
)
from pos_commons.money import parse_decimal
from pos_commons.request_context import REQUEST_ID_HEADER, request_id_var

BATCH_LIMIT = 100


def item_from_json(data: dict[str, Any]) -> ItemInfo:
    rule = data["taxRule"]
    store_price = data["storePrice"]
    return ItemInfo(
        item_code=data["itemCode"],
        description=data["description"],
        short_description=data["shortDescription"],
        category_code=data["categoryCode"],
        effective_price=parse_decimal(data["effectivePrice"]),
        is_discount_restricted=data["isDiscountRestricted"],
        is_deleted=data["isDeleted"],
        tax_rule=tax_rule(
            tax_code=rule["taxCode"],
            name=rule["name"],
            tax_type=TaxType(rule["taxType"]),
            rate=parse_decimal(rule["rate"]),
            rounding_digits=rule["roundingDigits"],
            rounding_method=RoundingMethod(rule["roundingMethod"]),
        ),
        store_code=data["storeCode"],
        unit_price=parse_decimal(data["unitPrice"]),
        store_price=None if store_price is None else parse_decimal(store_price),
        created_at=datetime.fromisoformat(data["createdAt"]),
        updated_at=datetime.fromisoformat(data["updatedAt"]),
    )


def payment_method_from_json(data: dict[str, Any]) -> PaymentMethodInfo:
    return PaymentMethodInfo(
        payment_code=data["paymentCode"],
        name=data["name"],
        can_give_change=data["canGiveChange"],
        can_exceed_balance=data["canExceedBalance"],
        is_active=data["isActive"],
    )


def service_headers(service_token: str) -> dict[str, str]:
    """What every request to master-data carries, set once on its HTTP client."""
    return {"authorization": f"Bearer {service_token}"}


class WebMasterDataRepository:
    transport = "http"

    def __init__(self, client: HttpClient, budget_seconds: float, policy: RetryPolicy) -> None:
        """`client` sends the service token itself (see `service_headers`)."""
        self._client = client
        self._budget = budget_seconds
        self._policy = policy

    async def _get(self, path: str, params: dict[str, str] | None = None) -> UpstreamResponse:
        headers = {REQUEST_ID_HEADER: request_id_var.get()}
        try:
            return await send_with_retry(
                self._client, "GET", path, params=params, headers=headers,
                budget_seconds=self._budget, policy=self._policy,
            )  # fmt: skip
        except UpstreamUnreachableError as exc:
            raise unavailable(str(exc)) from exc
        except UpstreamTimeoutError as exc:
            raise too_slow(self._budget) from exc
        except UpstreamProtocolError as exc:
            raise bad_answer(str(exc)) from exc

    def _data(self, response: UpstreamResponse) -> Any:
        try:
            body = response.json()
        except ValueError as exc:
            raise bad_answer(f"HTTP {response.status}, not JSON") from exc
        if response.status == 200:
            return body["data"]
        error = body.get("error", {}) if isinstance(body, dict) else {}
        code = error.get("code", "")
        if response.status == 404 and code in NOT_FOUND_CODES:
            raise upstream_not_found(code, error.get("message", code))
        if response.status in (502, 503, 504):
            raise unavailable(f"HTTP {response.status} {code}")
        raise bad_answer(f"HTTP {response.status} {code}")

    async def get_items(self, tenant_id: str, store_code: str, codes: Sequence[str]) -> ItemLookup:
        found: dict[str, ItemInfo] = {}
        missing: list[str] = []
        path = f"/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails?codes="
        for start in range(0, len(codes), BATCH_LIMIT):
            # Item codes are [A-Za-z0-9_.-] (validated by cart's API): nothing to escape, so
            # the query is written as is rather than built by the client library.
            chunk = codes[start : start + BATCH_LIMIT]
            data = self._data(await self._get(path + ",".join(chunk)))
            try:
                for item in data["items"]:
                    info = item_from_json(item)
                    found[info.item_code] = info
                missing.extend(data["notFoundItemCodes"])
            except (KeyError, TypeError, ValueError) as exc:
                raise bad_answer(f"malformed item detail: {exc!r}") from exc
        return ItemLookup(found, missing)

    async def get_payment_method(self, tenant_id: str, payment_code: str) -> PaymentMethodInfo:
        path = f"/api/v1/tenants/{tenant_id}/paymentMethods/{payment_code}"
        data = self._data(await self._get(path))
        try:
            return payment_method_from_json(data)
        except (KeyError, TypeError) as exc:
            raise bad_answer(f"malformed payment method: {exc!r}") from exc

    async def ready(self) -> bool:
        try:
            response = await self._client.request("GET", "/ready")
        except (UpstreamUnreachableError, UpstreamTimeoutError, UpstreamProtocolError):
            return False
        return response.status == 200

    async def close(self) -> None:
        """The client belongs to the pool, which closes it."""
