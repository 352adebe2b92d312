"""Master data over HTTP/JSON: master-data's item-detail and payment-method endpoints.

MASTER_DATA_URL may list several replicas: calls go round-robin over them, and a retry goes
to the next one, so a replica that is restarting costs no call.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson

from cart.domain.model import RoundingMethod, TaxRule, TaxType
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
from cart.masterdata.failures import (
    MasterDataCallError,
    bad_answer,
    classify_http,
    too_slow,
    unreachable,
)
from cart.masterdata.http_clients import (
    HttpClient,
    StreamClient,
    UpstreamProtocolError,
    UpstreamResponse,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from cart.masterdata.repository import ItemLookup, TaxRuleMemo, in_batches, tax_rule
from cart.masterdata.retries import Retrier
from cart.masterdata.sse import sse_events
from pos_commons.grpc_trailers import CACHE_CONTROL_KEY, NO_CACHE
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
        unit_price=parse_decimal(data["unitPrice"]),
        store_price=None if data["storePrice"] is None else parse_decimal(data["storePrice"]),
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


def item_record_from_json(data: Any) -> ItemRecord:
    return ItemRecord(
        item_code=data["itemCode"],
        description=data["description"],
        short_description=data["shortDescription"],
        category_code=data["categoryCode"],
        tax_code=data["taxCode"],
        unit_price=parse_decimal(data["unitPrice"]),
        is_discount_restricted=data["isDiscountRestricted"],
        is_deleted=data["isDeleted"],
    )


def _store_price_from_json(data: Any) -> StorePriceRecord:
    return StorePriceRecord(data["storeCode"], data["itemCode"], parse_decimal(data["price"]))


_VALUES: dict[ChangeKind, Callable[[Any], ChangeValue]] = {
    ChangeKind.ITEM: item_record_from_json,
    ChangeKind.STORE_PRICE: _store_price_from_json,
    ChangeKind.TAX_RULE: _tax_rule_from_json,
    ChangeKind.PAYMENT_METHOD: lambda data: payment_method_from_json(data),
    ChangeKind.STORE: lambda data: StoreRecord(data["storeCode"]),
}
_KEY_FIELDS = {"itemCode": "item_code", "storeCode": "store_code", "taxCode": "tax_code",
               "paymentCode": "payment_code"}  # fmt: skip


def feed_message_from_sse(event: str, data: str, token: str | None) -> FeedMessage:
    """A catalog feed message from its Server-Sent Event (master-data's api/catalog_feed.py)."""
    if not token:
        raise ValueError("an event without an id")
    if event == "heartbeat":
        return Heartbeat(token)
    body = orjson.loads(data)
    if event == "startOver":
        return StartOver(token, str(body["reason"]))
    if event != "change":
        raise ValueError(f"unknown event {event!r}")
    kind = ChangeKind(body["kind"])
    value = body["value"]
    return CatalogChange(
        kind=kind,
        key={_KEY_FIELDS[name]: str(code) for name, code in body["key"].items()},
        value=None if body["deleted"] else _VALUES[kind](value),
        changed_at=datetime.fromisoformat(body["changedAt"]),
        token=token,
    )


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
    raise _refusal(response.status, body)


def _refusal(status: int, body: Mapping[str, Any] | bytes | None) -> MasterDataCallError:
    """An answer other than 200, classified by its error envelope's code and its status."""
    if isinstance(body, bytes):
        try:
            body = orjson.loads(body)
        except ValueError:
            body = None
    error = body.get("error") if isinstance(body, dict) else None
    code = message = ""
    if isinstance(error, dict):
        code = str(error.get("code", ""))
        message = str(error.get("message", ""))
    return classify_http(status, code, message)


class WebMasterDataRepository:
    transport = Transport.HTTP

    def __init__(
        self,
        clients: Sequence[HttpClient],
        retrier: Retrier,
        feed_client: StreamClient | None = None,
    ) -> None:
        """`clients` send the service token themselves (see `service_headers`); one each
        for the replicas of MASTER_DATA_URL. `feed_client` reads the catalog feed (a
        repository built without one, for lookups alone, has no feed)."""
        if not clients:
            raise ValueError("at least one master-data client is needed")
        self._clients = list(clients)
        self._turn = itertools.cycle(range(len(self._clients)))
        self._retrier = retrier
        self._tax_rules = TaxRuleMemo()
        self._feed_client = feed_client

    def _get(self, path: str, decode: Callable[[Any], T], fresh: bool = False) -> Awaitable[T]:
        # Round-robin over the replicas; each retry of this call goes to the next one after
        # the replica that failed it.
        turn = next(self._turn)

        async def attempt(seconds: float) -> T:
            nonlocal turn
            client = self._clients[turn]
            turn = (turn + 1) % len(self._clients)
            headers = {REQUEST_ID_HEADER: request_id_var.get()}
            if fresh:
                headers[CACHE_CONTROL_KEY] = NO_CACHE
            try:
                # The whole attempt, a wait for a pooled connection included: past it, "too
                # slow", never "unreachable" (the clients bound only the TCP connect).
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

    async def get_items(
        self, tenant_id: str, store_code: str, codes: Sequence[str], *, fresh: bool = False
    ) -> ItemLookup:
        path = f"/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails?codes="

        def look_up(batch: Sequence[str]) -> Awaitable[ItemLookup]:
            # Item codes are [A-Za-z0-9_.-] (validated by cart's API): nothing to escape, so
            # the query is written as is rather than built by the client library.
            return self._get(path + ",".join(batch), self._item_lookup, fresh)

        return await in_batches(codes, look_up)

    def _item_lookup(self, data: Any) -> ItemLookup:
        return item_lookup_from_json(data, self._tax_rules)

    async def get_payment_method(
        self, tenant_id: str, payment_code: str, *, fresh: bool = False
    ) -> PaymentMethodInfo:
        path = f"/api/v1/tenants/{tenant_id}/paymentMethods/{payment_code}"
        return await self._get(path, payment_method_from_json, fresh)

    async def watch_catalog(
        self, tenant_id: str, token: str | None
    ) -> AsyncGenerator[FeedMessage, None]:
        if self._feed_client is None:
            raise RuntimeError("this repository was built without a feed client")
        path = f"/api/v1/tenants/{tenant_id}/catalogFeed"
        headers: dict[str, str] = {"accept": "text/event-stream"}
        if token is not None:
            headers["last-event-id"] = token
        try:
            async with self._feed_client.get(path, headers) as (status, lines, body):
                if status != 200:
                    raise _refusal(status, body)
                async for event in sse_events(lines):
                    try:
                        yield feed_message_from_sse(event.event, event.data, event.id)
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        raise bad_answer(f"malformed catalog feed event: {exc!r}") from exc
        except UpstreamUnreachableError as exc:
            raise unreachable(str(exc)) from exc
        except UpstreamProtocolError as exc:
            raise bad_answer(str(exc)) from exc

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
        if self._feed_client is not None:
            await self._feed_client.close()
