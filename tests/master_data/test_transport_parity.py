"""The defect this project exists to fix: both transports must carry the same fields.

Walks the whole demo catalog (deleted items included) for every store, single and batch,
over HTTP and gRPC, and compares every field of every item.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
from grpc import aio
from pydantic import BaseModel

from master_data.domain import ItemDetail, PaymentMethod, TaxRuleView
from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    common_pb2,
    item_service_pb2,
    item_service_pb2_grpc,
    payment_method_service_pb2,
)
from pos_commons.tax import ROUNDING_METHODS, TAX_TYPES
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import Tokens
from tests.support import data


def from_grpc(item: item_service_pb2.ItemDetail) -> dict[str, Any]:
    """The gRPC message in the HTTP body's shape, every field, defaults included."""
    rule = item.tax_rule
    return {
        "itemCode": item.item_code,
        "storeCode": item.store_code,
        "description": item.description,
        "shortDescription": item.short_description,
        "categoryCode": item.category_code,
        "taxCode": item.tax_code,
        "unitPrice": item.unit_price,
        "storePrice": item.store_price if item.HasField("store_price") else None,
        "effectivePrice": item.effective_price,
        "isDiscountRestricted": item.is_discount_restricted,
        "isDeleted": item.is_deleted,
        "taxRule": {
            "taxCode": rule.tax_code,
            "name": rule.name,
            "taxType": TAX_TYPES[rule.tax_type],
            "rate": rule.rate,
            "roundingDigits": rule.rounding_digits,
            "roundingMethod": ROUNDING_METHODS[rule.rounding_method],
        },
        "createdAt": item.created_at.ToDatetime().isoformat(),
        "updatedAt": item.updated_at.ToDatetime().isoformat(),
    }


def from_http(item: dict[str, Any]) -> dict[str, Any]:
    normalized = dict(item)
    for field in ("createdAt", "updatedAt"):
        normalized[field] = datetime.fromisoformat(item[field]).replace(tzinfo=None).isoformat()
    return normalized


def test_the_messages_declare_every_field_of_the_http_bodies() -> None:
    """The contract itself: same field names (proto json names vs HTTP camelCase)."""

    def http_fields(model: type[BaseModel]) -> set[str]:
        return {field.alias or name for name, field in model.model_fields.items()}

    def proto_fields(message: Any) -> set[str]:
        return {field.json_name for field in message.DESCRIPTOR.fields}

    assert proto_fields(item_service_pb2.ItemDetail) == http_fields(ItemDetail)
    assert proto_fields(common_pb2.TaxRule) == http_fields(TaxRuleView)
    assert proto_fields(payment_method_service_pb2.PaymentMethod) == http_fields(PaymentMethod)


async def test_every_item_is_the_same_over_both_transports(
    reader: httpx.AsyncClient, grpc_channel: aio.Channel, tokens: Tokens, demo: DemoCatalog
) -> None:
    stub = item_service_pb2_grpc.ItemServiceStub(grpc_channel)
    metadata = (("authorization", f"Bearer {tokens.service}"),)
    limit = asyncio.Semaphore(16)
    compared = 0

    async def http_single(store: str, code: str) -> dict[str, Any]:
        async with limit:
            path = f"/api/v1/tenants/{demo.tenant_id}/stores/{store}/itemDetails/{code}"
            return from_http(data(await reader.get(path)))

    async def grpc_single(store: str, code: str) -> dict[str, Any]:
        async with limit:
            request = item_service_pb2.GetItemDetailRequest(
                tenant_id=demo.tenant_id, store_code=store, item_code=code
            )
            return from_grpc(
                (await stub.GetItemDetail(request, metadata=metadata, timeout=10)).item
            )

    for store in demo.stores:
        codes = demo.item_codes
        over_http = await asyncio.gather(*(http_single(store, code) for code in codes))
        over_grpc = await asyncio.gather(*(grpc_single(store, code) for code in codes))
        for http_item, grpc_item in zip(over_http, over_grpc, strict=True):
            assert http_item == grpc_item
            compared += 1
        for start in range(0, len(codes), 100):
            chunk = codes[start : start + 100]
            path = f"/api/v1/tenants/{demo.tenant_id}/stores/{store}/itemDetails"
            http_batch = data(await reader.get(path, params={"codes": ",".join(chunk)}))
            request = item_service_pb2.BatchGetItemDetailsRequest(
                tenant_id=demo.tenant_id, store_code=store, item_codes=chunk
            )
            grpc_batch = await stub.BatchGetItemDetails(request, metadata=metadata, timeout=10)
            assert [from_http(i) for i in http_batch["items"]] == [
                from_grpc(i) for i in grpc_batch.items
            ]
            assert http_batch["notFoundItemCodes"] == list(grpc_batch.not_found_item_codes) == []
            assert [from_http(i) for i in http_batch["items"]] == over_http[start : start + 100]

    assert compared == len(demo.item_codes) * len(demo.stores)
    # The catalog exercises what matters: overrides (zero included), restrictions, deletions,
    # prices with three decimals.
    s001 = await asyncio.gather(*(http_single("S001", code) for code in demo.item_codes))
    assert any(item["storePrice"] == "0" for item in s001)
    assert any(item["storePrice"] not in (None, "0") for item in s001)
    assert any(item["isDiscountRestricted"] for item in s001)
    assert any(item["isDeleted"] for item in s001)
    assert any(len(item["unitPrice"].split(".")[-1]) == 3 for item in s001)
    assert {item["taxRule"]["taxType"] for item in s001} == {"external", "internal", "exempt"}
