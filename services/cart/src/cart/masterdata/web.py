"""Master data over HTTP/JSON: master-data's item-detail and payment-method endpoints.

MASTER_DATA_URL may list several replicas: calls go round-robin over them, and a retry goes
to the next one, so a replica that is restarting costs no call.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from cart.domain.model import RoundingMethod, TaxRule, TaxType
from cart.domain.operations import ItemInfo, PaymentMethodInfo
from cart.masterdata.failures import bad_answer, classify_http, too_slow, unreachable
from cart.masterdata.http_clients import (
    HttpClient,
    UpstreamProtocolError,
    UpstreamResponse,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from cart.masterdata.repository import ItemLookup, TaxRuleMemo, in_batches, tax_rule
from cart.masterdata.retries import Retrier
from pos_commons.money import parse_decimal
from pos_commons.request_context import REQUEST_ID_HEADER, request_id_var
from pos_commons.transport import Transport

T = TypeVar("T")


def _tax_rule_from_json(rule: dict[str, Any]) -> TaxRule:
    return tax_rule(
        tax_code=rule["taxCode"],
        name=rule["name"],
        tax_type=TaxType(rule["taxType"]),
        rate=parse_decimal(rule["rate"]),
        rounding_digits=rule["roundingDigits"],
        rounding_method=RoundingMethod(rule["roundingMethod"]),
    )


def item_from_json(data: dict[str, Any], rules: TaxRuleMemo) -> ItemInfo:
    rule = data["taxRule"]
    raw_rule = (
        rule["taxCode"],
        rule["name"],
        rule["taxType"],
        rule["rate"],
        rule["roundingDigits"],
        rule["roundingMethod"],
    )
    return ItemInfo(
        item_code=data["itemCode"],
        description=data["description"],
        short_description=data["shortDescription"],
        category_code=data["categoryCode"],
        effective_price=parse_decimal(data["effectivePrice"]),
        is_discount_restricted=data["isDiscountRestricted"],
        is_deleted=data["isDeleted"],
        tax_rule=rules.get(raw_rule, lambda: _tax_rule_from_json(rule)),
    )


def item_lookup_from_json(data: Any, rules: TaxRuleMemo) -> ItemLookup:
    found = {}
    for item in data["items"]:
        info = item_from_json(item, rules)
        found[info.item_code] = info
    missing = data["notFoundItemCodes"]
    if not isinstance(missing, list):
        raise TypeError("notFoundItemCodes is not a list")
    return ItemLookup(found, [str(code) for code in missing])


def payment_method_from_json(data: Any) -> PaymentMethodInfo:
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


def _data(response: UpstreamResponse) -> Any:
    """The envelope's `data` of a 200; any other answer, classified."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status == 200:
        if not isinstance(body, dict) or "data" not in body:
            raise bad_answer("HTTP 200 without an envelope's data")
        return body["data"]
    error = body.get("error") if isinstance(body, dict) else None
    code = message = ""
    if isinstance(error, dict):
        code = str(error.get("code", ""))
        message = str(error.get("message", ""))
    raise classify_http(response.status, code, message)


class WebMasterDataRepository:
    transport = Transport.HTTP

    def __init__(self, clients: Sequence[HttpClient], retrier: Retrier) -> None:
        """`clients` send the service token themselves (see `service_headers`); one each
        for the replicas of MASTER_DATA_URL."""
        if not clients:
            raise ValueError("at least one master-data client is needed")
        self._clients = list(clients)
        self._turn = itertools.cycle(range(len(self._clients)))
        self._retrier = retrier
        self._tax_rules = TaxRuleMemo()

    def _get(self, path: str, decode: Callable[[Any], T]) -> Awaitable[T]:
        # Round-robin over the replicas; each retry of this call goes to the next one after
        # the replica that failed it.
        turn = next(self._turn)

        async def attempt(seconds: float | None) -> T:
            nonlocal turn
            client = self._clients[turn]
            turn = (turn + 1) % len(self._clients)
            headers = {REQUEST_ID_HEADER: request_id_var.get()}
            try:
                if seconds is None:
                    # Bounded by the client's connect and read timeouts (HTTP_TIMEOUT): one
                    # more timer per request would cost ~12 % of a cached lookup.
                    response = await client.request("GET", path, headers=headers)
                else:
                    async with asyncio.timeout(seconds):
                        response = await client.request("GET", path, headers=headers)
            except UpstreamUnreachableError as exc:
                raise unreachable(str(exc)) from exc
            except (UpstreamTimeoutError, TimeoutError) as exc:
                raise too_slow(str(exc) or "no answer in time") from exc
            except UpstreamProtocolError as exc:
                raise bad_answer(str(exc)) from exc
            data = _data(response)
            try:
                return decode(data)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise bad_answer(f"malformed answer to GET {path}: {exc!r}") from exc

        return self._retrier.call(attempt)

    async def get_items(self, tenant_id: str, store_code: str, codes: Sequence[str]) -> ItemLookup:
        path = f"/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails?codes="

        def look_up(batch: Sequence[str]) -> Awaitable[ItemLookup]:
            # Item codes are [A-Za-z0-9_.-] (validated by cart's API): nothing to escape, so
            # the query is written as is rather than built by the client library.
            return self._get(path + ",".join(batch), self._item_lookup)

        return await in_batches(codes, look_up)

    def _item_lookup(self, data: Any) -> ItemLookup:
        return item_lookup_from_json(data, self._tax_rules)

    async def get_payment_method(self, tenant_id: str, payment_code: str) -> PaymentMethodInfo:
        path = f"/api/v1/tenants/{tenant_id}/paymentMethods/{payment_code}"
        return await self._get(path, payment_method_from_json)

    async def ready(self) -> bool:
        """Whether any replica is ready."""
        for client in self._clients:
            try:
                response = await client.request("GET", "/ready")
            except (UpstreamUnreachableError, UpstreamTimeoutError, UpstreamProtocolError):
                continue
            if response.status == 200:
                return True
        return False

    async def close(self) -> None:
        for client in self._clients:
            await client.close()
