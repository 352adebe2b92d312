"""Money through the real services, on both transports: every total can be paid exactly,
every amount on the wire has its places, money input is strict and bounded, money is
Decimal128 in MongoDB, and a cancelled cart says what must be given back."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from bson.decimal128 import Decimal128
from pymongo import AsyncMongoClient

from pos_commons.transport import Transport
from pos_devstack.stack import CartProcess
from tests.support import Stack, TerminalNumbers, data, error_code, new_terminal


@pytest.fixture
async def fine_tax_tenant(admin: httpx.AsyncClient, tenant: str) -> str:
    """A tenant whose tax rule rounds to 3 places (master-data accepts 0 to 6)."""
    base = f"/api/v1/tenants/{tenant}"
    data(await admin.post(f"{base}/stores", json={"storeCode": "S1", "name": "One"}), 201)
    data(await admin.post(f"{base}/categories", json={"categoryCode": "C1", "name": "C"}), 201)
    rule = {"taxCode": "T3", "name": "Three places", "taxType": "external", "rate": "10",
            "roundingDigits": 3, "roundingMethod": "halfUp"}  # fmt: skip
    data(await admin.post(f"{base}/taxRules", json=rule), 201)
    item = {"itemCode": "I1", "description": "One", "unitPrice": "10.05", "categoryCode": "C1",
            "taxCode": "T3"}  # fmt: skip
    data(await admin.post(f"{base}/items", json=item), 201)
    for method in (
        {"paymentCode": "CARD", "name": "Card", "canGiveChange": False, "canExceedBalance": False},
        {"paymentCode": "CASH", "name": "Cash", "canGiveChange": True, "canExceedBalance": True},
    ):
        data(await admin.post(f"{base}/paymentMethods", json=method), 201)
    return tenant


@pytest.mark.parametrize("transport", Transport)
async def test_a_three_place_tax_rule_is_paid_exactly_by_card_and_billed(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    fine_tax_tenant: str,
    terminal_numbers: TerminalNumbers,
    transport: Transport,
) -> None:
    client = await new_terminal(
        carts[transport].url, stack.tokens.cart_admin, fine_tax_tenant, "S1",
        terminal_numbers.take(),
    )  # fmt: skip
    async with client:
        cart_id = data(await client.post("/carts"), 201)["cartId"]
        cart = f"/carts/{cart_id}"
        data(await client.post(f"{cart}/lineItems", json=[{"itemCode": "I1"}]))
        paying = data(await client.post(f"{cart}/subtotal"))
        # 10 % of 10.05 is 1.005: at most money's 2 places, 1.01; the total 11.06.
        assert paying["taxes"][0]["taxAmount"] == "1.01"
        assert paying["totals"]["totalAmount"] == "11.06"
        card = {"paymentCode": "CARD", "amount": paying["totals"]["balanceDue"]}
        paid = data(await client.post(f"{cart}/payments", json=card))
        assert paid["totals"]["balanceDue"] == "0.00"
        billed = data(await client.post(f"{cart}/bill"))
        assert billed["state"] == "Completed"


async def test_every_amount_has_its_places_and_input_is_strict(
    terminal: httpx.AsyncClient,
) -> None:
    client = terminal
    fresh = data(await client.post("/carts"), 201)
    assert set(fresh["totals"].values()) >= {"0.00"}
    assert all(
        v == "0.00" for k, v in fresh["totals"].items() if k not in ("lineCount", "itemCount")
    )
    cart = f"/carts/{fresh['cartId']}"
    # ITEM0003: exempt (EXM); ITEM0005 sells at 0 in S001.
    lines = [{"itemCode": "ITEM0003"}, {"itemCode": "ITEM0005"}]
    added = data(await client.post(f"{cart}/lineItems", json=lines))
    assert added["lines"][1]["unitPrice"] == "0.00"
    assert {tax["taxCode"]: tax["taxAmount"] for tax in added["taxes"]}["EXM"] == "0.00"
    for amount in ("١٢٣", "1_000", " 1", "1e3", "+1", "1.", ".5", 12.5, True):
        body = [{"itemCode": "ITEM0001", "unitPrice": amount}]
        response = await client.post(f"{cart}/lineItems", json=body)
        assert error_code(response, 422) == "VALIDATION_FAILED", amount
    data(await client.post(f"{cart}/subtotal"))
    too_much = await client.post(
        f"{cart}/payments", json={"paymentCode": "CASH", "amount": "1000000.01"}
    )
    assert error_code(too_much, 422) == "AMOUNT_TOO_LARGE"
    paid = data(await client.post(f"{cart}/payments", json={"paymentCode": "CASH", "amount": 780}))
    assert paid["payments"][0]["amount"] == "780.00"
    assert Decimal(paid["payments"][0]["change"]) > 0


async def test_integers_in_paths_are_bounded(terminal: httpx.AsyncClient) -> None:
    client = terminal
    for receipt in ("9223372036854775808", "2147483648", "0", "-1", "1e3"):
        response = await client.get(f"/transactions/{receipt}")
        assert error_code(response, 422) == "VALIDATION_FAILED", receipt
    cart_id = data(await client.post("/carts"), 201)["cartId"]
    for line in ("100001", "9223372036854775808", "0"):
        response = await client.patch(
            f"/carts/{cart_id}/lineItems/{line}/quantity", json={"quantity": 1}
        )
        assert error_code(response, 422) == "VALIDATION_FAILED", line


async def test_a_cancel_after_payments_says_what_to_give_back(
    terminal: httpx.AsyncClient,
) -> None:
    client = terminal
    cart_id = data(await client.post("/carts"), 201)["cartId"]
    cart = f"/carts/{cart_id}"
    data(await client.post(f"{cart}/lineItems", json=[{"itemCode": "ITEM0001"}]))
    total = Decimal(data(await client.post(f"{cart}/subtotal"))["totals"]["totalAmount"])
    data(await client.post(f"{cart}/payments", json={"paymentCode": "CARD", "amount": "10.00"}))
    cancelled = data(await client.post(f"{cart}/cancel"))
    assert cancelled["state"] == "Cancelled"
    assert cancelled["totals"]["refundAmount"] == "10.00"
    assert total > Decimal("10.00")
    record = data(await client.get(f"/transactions/{cancelled['receiptNo']}"))
    assert record["transactionType"] == "cancel"
    assert record["totals"]["refundAmount"] == "10.00"
    assert [p["amount"] for p in record["payments"]] == ["10.00"]


async def test_money_is_decimal128_in_mongodb(stack: Stack, terminal: httpx.AsyncClient) -> None:
    client = terminal
    cart_id = data(await client.post("/carts"), 201)["cartId"]
    cart = f"/carts/{cart_id}"
    data(await client.post(f"{cart}/lineItems", json=[{"itemCode": "ITEM0001", "quantity": 2}]))
    data(await client.post(f"{cart}/subtotal"))
    data(await client.post(f"{cart}/payments", json={"paymentCode": "CASH", "amount": "1000"}))
    billed = data(await client.post(f"{cart}/bill"))
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        db = mongo["cart_demo"]
        stored = await db["carts"].find_one({"_id": cart_id})
        record = await db["transactions"].find_one({"cart_id": cart_id})
        items = mongo["masterdata_demo"]["items"]
        item = await items.find_one({"item_code": "ITEM0001"})
    finally:
        await mongo.close()
    assert stored is not None
    assert record is not None
    assert item is not None
    for document in (stored, record):
        totals = document["totals"]
        assert isinstance(totals, dict)
        assert totals["total_amount"] == Decimal128(billed["totals"]["totalAmount"])
        assert isinstance(totals["paid_amount"], Decimal128)
        lines = document["lines"]
        assert isinstance(lines, list)
        assert isinstance(lines[0]["amount"], Decimal128)
        payments = document["payments"]
        assert isinstance(payments, list)
        assert payments[0]["amount"] == Decimal128("1000.00")
    assert isinstance(item["unit_price"], Decimal128)


def _as_strings(value: object) -> object:
    """A document as written before money was Decimal128: amounts as strings."""
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    if isinstance(value, dict):
        return {k: _as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_strings(v) for v in value]
    return value


async def test_documents_with_string_amounts_still_read(
    stack: Stack, terminal: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    client = terminal
    cart_id = data(await client.post("/carts"), 201)["cartId"]
    added = data(await client.post(f"/carts/{cart_id}/lineItems", json=[{"itemCode": "ITEM0001"}]))
    old_cart_id = uuid.uuid4().hex
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        carts = mongo["cart_demo"]["carts"]
        stored = await carts.find_one({"_id": cart_id})
        assert stored is not None
        await carts.insert_one({**_as_strings(stored), "_id": old_cart_id, "cart_id": old_cart_id})  # type: ignore[dict-item]
        items = mongo["masterdata_demo"]["items"]
        item = await items.find_one({"item_code": "ITEM0002"}, {"_id": False})
        assert item is not None
        old_code = f"OLD{uuid.uuid4().hex[:8]}"
        await items.insert_one({**_as_strings(item), "item_code": old_code})  # type: ignore[dict-item]
    finally:
        await mongo.close()
    old = data(await client.get(f"/carts/{old_cart_id}"))
    assert old["totals"] == added["totals"]
    assert old["lines"] == added["lines"]
    detail = data(await reader.get(f"/api/v1/tenants/demo/stores/S003/itemDetails/{old_code}"))
    assert detail["unitPrice"] == str(item["unit_price"])
