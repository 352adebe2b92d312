"""The parity sale: the whole POS flow through one cart, every step recorded (status and body,
ids and timestamps aside), and what a correct run of it looks like.

Run through carts that differ only in how they reach master-data (HTTP or gRPC, plaintext,
TLS or mutual TLS), the recorded steps must be identical: the transport changes nothing a
terminal sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import CartProcess
from tests.support import TerminalNumbers, register_terminal, terminal_client

Name = TypeVar("Name", bound=str)

VOLATILE = {
    "cartId", "transactionId", "terminalNo", "createdAt", "updatedAt", "expiresAt", "requestId"
}  # fmt: skip
Step = tuple[str, int, Any]


def normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


async def run_flow(cart: CartProcess, api_key: str) -> list[Step]:
    steps: list[Step] = []
    async with terminal_client(cart.url, api_key) as client:

        async def call(name: str, method: str, path: str, body: Any = None) -> Any:
            response = await client.request(method, path, json=body)
            steps.append((name, response.status_code, normalized(response.json())))
            return response.json().get("data")

        sale = (await call("create", "POST", "/carts"))["cartId"]
        c = f"/carts/{sale}"
        await call("add five", "POST", f"{c}/lineItems", [
            {"itemCode": "ITEM0001", "quantity": 2},
            {"itemCode": "ITEM0005"},
            {"itemCode": "ITEM0010"},
            {"itemCode": "ITEM0017", "quantity": 3},
            {"itemCode": "ITEM0007"},
        ])  # fmt: skip
        await call("add at price", "POST", f"{c}/lineItems",
                   [{"itemCode": "ITEM0003", "unitPrice": "4.50"}])  # fmt: skip
        await call("add unknown", "POST", f"{c}/lineItems", [{"itemCode": "NOPE99"}])
        await call("add deleted", "POST", f"{c}/lineItems", [{"itemCode": "ITEM0025"}])
        await call("quantity", "PATCH", f"{c}/lineItems/1/quantity", {"quantity": 3})
        await call("price", "PATCH", f"{c}/lineItems/4/unitPrice", {"unitPrice": "9.99"})
        await call("line %", "POST", f"{c}/lineItems/1/discounts",
                   {"discountType": "percent", "value": "10"})  # fmt: skip
        await call("line amount", "POST", f"{c}/lineItems/4/discounts",
                   {"discountType": "amount", "value": "1.00"})  # fmt: skip
        await call("restricted", "POST", f"{c}/lineItems/3/discounts",
                   {"discountType": "percent", "value": "5"})  # fmt: skip
        await call("cancel line", "POST", f"{c}/lineItems/5/cancel")
        await call("cancelled line", "PATCH", f"{c}/lineItems/5/quantity", {"quantity": 2})
        await call("unknown line", "PATCH", f"{c}/lineItems/99/quantity", {"quantity": 2})
        await call("early bill", "POST", f"{c}/bill")
        await call("subtotal", "POST", f"{c}/subtotal")
        await call("cart %", "POST", f"{c}/discounts", {"discountType": "percent", "value": "5"})
        await call("cart amount", "POST", f"{c}/discounts",
                   {"discountType": "amount", "value": "2.00"})  # fmt: skip
        await call("card too much", "POST", f"{c}/payments",
                   {"paymentCode": "CARD", "amount": "100000"})  # fmt: skip
        await call("inactive", "POST", f"{c}/payments", {"paymentCode": "POINTS", "amount": "1"})
        await call("unknown pay", "POST", f"{c}/payments", {"paymentCode": "NOPE", "amount": "1"})
        await call("card", "POST", f"{c}/payments", {"paymentCode": "CARD", "amount": "20.00"})
        await call("bill due", "POST", f"{c}/bill")
        await call("cash", "POST", f"{c}/payments", {"paymentCode": "CASH", "amount": "1000"})
        await call("bill", "POST", f"{c}/bill")
        await call("sale record", "GET", "/transactions/1")
        await call("after bill", "POST", f"{c}/lineItems", [{"itemCode": "ITEM0001"}])

        void = (await call("create 2", "POST", "/carts"))["cartId"]
        v = f"/carts/{void}"
        await call("add 2", "POST", f"{v}/lineItems",
                   [{"itemCode": "ITEM0002", "quantity": 2}, {"itemCode": "ITEM0004"}])  # fmt: skip
        await call("subtotal 2", "POST", f"{v}/subtotal")
        await call("resume", "POST", f"{v}/resume-item-entry")
        await call("add more", "POST", f"{v}/lineItems", [{"itemCode": "ITEM0006"}])
        await call("cancel", "POST", f"{v}/cancel")
        await call("cancel record", "GET", "/transactions/2")
        await call("after cancel", "POST", f"{v}/lineItems", [{"itemCode": "ITEM0001"}])
    return steps


def by_name(steps: list[Step]) -> dict[str, tuple[int, Any]]:
    return {name: (status, body) for name, status, body in steps}


def money(value: str) -> Decimal:
    return Decimal(value)


async def run_sales(
    carts: Mapping[Name, CartProcess],
    cart_admin_token: str,
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
) -> dict[Name, list[Step]]:
    """The flow once through each cart, each with a terminal of its own."""
    results: dict[Name, list[Step]] = {}
    for name, cart in carts.items():
        key = await register_terminal(
            cart.url, cart_admin_token, demo.tenant_id, "S001", terminal_numbers.take()
        )
        results[name] = await run_flow(cart, key)
    return results


def assert_identical_sales(results: Mapping[Name, list[Step]], demo: DemoCatalog) -> None:
    """Every run recorded the same steps as the first, and that run is a correct sale."""
    (first_name, first), *others = results.items()
    for name, steps in others:
        for expected, step in zip(first, steps, strict=True):
            assert step == expected, f"{name} differs from {first_name} at step {step[0]!r}"
    assert_correct_sale(first, demo)


def assert_correct_sale(flow: list[Step], demo: DemoCatalog) -> None:
    steps = by_name(flow)
    statuses = {name: status for name, (status, _) in steps.items()}
    assert statuses == {
        "create": 201, "add five": 200, "add at price": 200, "add unknown": 404,
        "add deleted": 422, "quantity": 200, "price": 200, "line %": 200, "line amount": 200,
        "restricted": 422, "cancel line": 200, "cancelled line": 409, "unknown line": 404,
        "early bill": 409, "subtotal": 200, "cart %": 200, "cart amount": 200,
        "card too much": 422, "inactive": 422, "unknown pay": 404, "card": 200, "bill due": 409,
        "cash": 200, "bill": 200, "sale record": 200, "after bill": 409, "create 2": 201,
        "add 2": 200, "subtotal 2": 200, "resume": 200, "add more": 200, "cancel": 200,
        "cancel record": 200, "after cancel": 409,
    }  # fmt: skip
    codes = {name: body["error"]["code"] for name, (status, body) in steps.items() if status >= 400}
    assert codes == {
        "add unknown": "ITEM_NOT_FOUND",
        "add deleted": "ITEM_NOT_SELLABLE",
        "restricted": "DISCOUNT_RESTRICTED_ITEM",
        "cancelled line": "LINE_CANCELLED",
        "unknown line": "LINE_NOT_FOUND",
        "early bill": "BILL_NOT_ALLOWED_IN_ENTERING_ITEM",
        "card too much": "PAYMENT_EXCEEDS_BALANCE",
        "inactive": "PAYMENT_METHOD_INACTIVE",
        "unknown pay": "PAYMENT_METHOD_NOT_FOUND",
        "bill due": "BALANCE_DUE",
        "after bill": "ADD_ITEMS_NOT_ALLOWED_IN_COMPLETED",
        "after cancel": "ADD_ITEMS_NOT_ALLOWED_IN_CANCELLED",
    }

    billed = steps["bill"][1]["data"]
    lines = {line["itemCode"]: line for line in billed["lines"]}
    # Master data arrived intact: store override, zero store price, restriction, 3 decimals.
    assert lines["ITEM0005"]["unitPrice"] == "0.00"
    assert lines["ITEM0005"]["amount"] == "0.00"
    assert lines["ITEM0007"]["originalUnitPrice"] == str(demo.store_price("S001", "ITEM0007"))
    assert lines["ITEM0010"]["isDiscountRestricted"] is True
    assert lines["ITEM0010"]["cartDiscountAmount"] == "0.00"
    assert len(lines["ITEM0017"]["originalUnitPrice"].split(".")[1]) == 3
    assert lines["ITEM0017"]["isUnitPriceChanged"] is True
    assert lines["ITEM0003"]["unitPrice"] == "4.50"
    assert lines["ITEM0007"]["isCancelled"] is True
    totals = billed["totals"]
    assert billed["state"] == "Completed"
    assert billed["receiptNo"] == 1
    assert money(totals["cartDiscountTotal"]) > 0
    assert money(totals["changeAmount"]) > 0
    assert money(totals["balanceDue"]) == 0
    assert money(totals["totalAmount"]) == money(totals["netAmount"]) + money(
        totals["externalTaxTotal"]
    )
    record = steps["sale record"][1]["data"]
    assert record["transactionType"] == "sale"
    assert record["totals"] == totals
    assert record["lines"] == billed["lines"]
    cancelled = steps["cancel record"][1]["data"]
    assert cancelled["transactionType"] == "cancel"
    assert cancelled["receiptNo"] == 2
    assert [line["itemCode"] for line in cancelled["lines"]] == ["ITEM0002", "ITEM0004", "ITEM0006"]
