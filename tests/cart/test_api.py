"""cart's HTTP API edges: bad input gets a clear 4xx code and loses nothing; auth and scoping;
observability (Server-Timing, metrics, readiness)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from pymongo import AsyncMongoClient

from cart.settings import CartSettings
from pos_commons.transport import Transport
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import CartProcess
from tests.support import (
    Stack,
    TerminalNumbers,
    data,
    error_code,
    expire,
    metric_value,
    new_terminal,
    register_terminal,
    terminal_client,
)


async def _cart_with_item(client: httpx.AsyncClient) -> str:
    cart_id: str = data(await client.post("/carts"), 201)["cartId"]
    data(await client.post(f"/carts/{cart_id}/lineItems", json=[{"itemCode": "ITEM0001"}]))
    return cart_id


async def test_bad_add_items_bodies(terminal: httpx.AsyncClient) -> None:
    cart_id = await _cart_with_item(terminal)
    before = data(await terminal.get(f"/carts/{cart_id}"))
    path = f"/carts/{cart_id}/lineItems"
    invalid = [
        [],
        [{"itemCode": "ITEM0002", "quantity": 1.5}],
        [{"itemCode": "ITEM0002", "quantity": "2"}],
        [{"itemCode": "ITEM0002", "unitPrice": 1.25}],
        [{"itemCode": "ITEM0002", "unitPrice": "-1"}],
        [{"itemCode": "bad code!"}],
        [{"itemCode": 42}],
        [{"quantity": 1}],
        [{"itemCode": "ITEM0002", "extra": True}],
        {"itemCode": "ITEM0002"},
        [{"itemCode": "ITEM0002"}] * 101,
        "ITEM0002",
        None,
    ]
    for body in invalid:
        response = await terminal.post(path, json=body)
        assert error_code(response, 422) == "VALIDATION_FAILED", body
    # A quantity out of range has its own code (docs/api.md), whatever the route.
    for quantity in (0, -3, 10_000, 2**70):
        body = [{"itemCode": "ITEM0002"}, {"itemCode": "ITEM0003", "quantity": quantity}]
        response = await terminal.post(path, json=body)
        assert error_code(response, 422) == "INVALID_QUANTITY", quantity
        assert "9999" in response.json()["error"]["message"]
    # Decided before master-data is asked: an unknown item does not hide it.
    response = await terminal.post(path, json=[{"itemCode": "NOSUCHITEM", "quantity": 0}])
    assert error_code(response, 422) == "INVALID_QUANTITY"
    malformed = await terminal.post(
        path, content=b'[{"itemCode": "ITEM0002"', headers={"content-type": "application/json"}
    )
    assert error_code(malformed, 400) == "MALFORMED_JSON"
    huge = b"[" + b'{"itemCode": "ITEM0002"},' * 60_000 + b'{"itemCode": "ITEM0002"}]'
    json_type = {"content-type": "application/json"}
    too_large = await terminal.post(path, content=huge, headers=json_type)
    assert error_code(too_large, 413) == "PAYLOAD_TOO_LARGE"

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(huge), 65_536):
            yield huge[start : start + 65_536]

    streamed = await terminal.post(path, content=chunked(), headers=json_type)
    assert error_code(streamed, 413) == "PAYLOAD_TOO_LARGE"
    # Nothing was lost or half-applied along the way.
    cart = data(await terminal.get(f"/carts/{cart_id}"))
    assert [line["itemCode"] for line in cart["lines"]] == ["ITEM0001"]
    assert cart == before  # not written since (its updatedAt too)


async def test_bad_line_operations(terminal: httpx.AsyncClient) -> None:
    cart_id = await _cart_with_item(terminal)
    before = data(await terminal.get(f"/carts/{cart_id}"))
    line = f"/carts/{cart_id}/lineItems"
    cases = [
        ("PATCH", f"{line}/2/quantity", {"quantity": 2}, 404, "LINE_NOT_FOUND"),
        ("PATCH", f"{line}/0/quantity", {"quantity": 2}, 422, "VALIDATION_FAILED"),
        ("PATCH", f"{line}/abc/quantity", {"quantity": 2}, 422, "VALIDATION_FAILED"),
        ("PATCH", f"{line}/1/quantity", {"quantity": 0}, 422, "INVALID_QUANTITY"),
        ("PATCH", f"{line}/1/quantity", {"quantity": 10_000}, 422, "INVALID_QUANTITY"),
        ("PATCH", f"{line}/1/quantity", {}, 422, "VALIDATION_FAILED"),
        ("PATCH", f"{line}/1/unitPrice", {"unitPrice": "abc"}, 422, "VALIDATION_FAILED"),
        ("POST", f"{line}/1/discounts", {"discountType": "bogus", "value": "1"}, 422,
         "VALIDATION_FAILED"),
        ("POST", f"{line}/1/discounts", {"discountType": "percent", "value": "150"}, 422,
         "INVALID_DISCOUNT"),
        ("POST", f"{line}/1/discounts", {"discountType": "amount", "value": "0.001"}, 422,
         "INVALID_DISCOUNT"),
        ("POST", f"{line}/1/discounts", {"discountType": "amount", "value": "999999"}, 422,
         "DISCOUNT_EXCEEDS_AMOUNT"),
        ("POST", f"/carts/{cart_id}/discounts", {"discountType": "amount", "value": "1"}, 409,
         "ADD_CART_DISCOUNT_NOT_ALLOWED_IN_ENTERING_ITEM"),
        ("POST", f"/carts/{cart_id}/payments", {"paymentCode": "CASH", "amount": "1"}, 409,
         "ADD_PAYMENT_NOT_ALLOWED_IN_ENTERING_ITEM"),
        ("POST", f"/carts/{cart_id}/resume-item-entry", None, 409,
         "RESUME_ITEM_ENTRY_NOT_ALLOWED_IN_ENTERING_ITEM"),
    ]  # fmt: skip
    for method, path, body, status, code in cases:
        response = await terminal.request(method, path, json=body)
        assert error_code(response, status) == code, (method, path, body)
    refused = await terminal.post(f"/carts/{cart_id}/bill")
    assert refused.json()["error"]["message"] == "A cart in item entry cannot be billed."
    details = refused.json()["error"]["details"]
    assert details == {
        "state": "EnteringItem",
        "action": "bill",
        "allowedActions": [
            "addItems", "cancelLine", "changeQuantity", "changeUnitPrice", "addLineDiscount",
            "subtotal", "cancel",
        ],
    }  # fmt: skip
    assert data(await terminal.get(f"/carts/{cart_id}")) == before


async def test_payment_rules(terminal: httpx.AsyncClient) -> None:
    cart_id = await _cart_with_item(terminal)
    data(await terminal.post(f"/carts/{cart_id}/subtotal"))
    pay = f"/carts/{cart_id}/payments"
    zero = await terminal.post(pay, json={"paymentCode": "CASH", "amount": "0"})
    assert error_code(zero, 422) == "INVALID_PAYMENT_AMOUNT"
    too_precise = await terminal.post(pay, json={"paymentCode": "CASH", "amount": "1.001"})
    assert error_code(too_precise, 422) == "INVALID_PAYMENT_AMOUNT"
    as_float = await terminal.post(pay, json={"paymentCode": "CASH", "amount": 1.5})
    assert error_code(as_float, 422) == "VALIDATION_FAILED"
    # Whole numbers are exact, so a JSON integer is as good as a decimal string.
    partial = data(await terminal.post(pay, json={"paymentCode": "CASH", "amount": 5}))
    assert partial["payments"][0]["change"] == "0.00"
    assert partial["totals"]["paidAmount"] == "5.00"
    paid = data(await terminal.post(pay, json={"paymentCode": "VOUCHER", "amount": "500"}))
    assert paid["totals"]["changeAmount"] == "0.00"
    assert paid["totals"]["balanceDue"].startswith("-")
    again = await terminal.post(pay, json={"paymentCode": "CASH", "amount": "1"})
    assert error_code(again, 409) == "NOTHING_TO_PAY"
    billed = data(await terminal.post(f"/carts/{cart_id}/bill"))
    assert billed["state"] == "Completed"


async def test_a_cart_too_large_to_total_is_refused_and_the_connection_keeps_working(
    terminal: httpx.AsyncClient,
) -> None:
    """Every amount entered is within bounds; 120 lines of 9,999 at the largest price are not
    (their total has 13 whole digits): 422, the cart as it was, the same connection usable."""
    cart_id = data(await terminal.post("/carts"), 201)["cartId"]
    path = f"/carts/{cart_id}/lineItems"
    lines = [{"itemCode": "ITEM0001", "quantity": 9_999, "unitPrice": "1000000"}] * 60
    first = data(await terminal.post(path, json=lines))
    assert first["totals"]["grossAmount"] == "599940000000.00"
    too_much = await terminal.post(path, json=lines)
    assert error_code(too_much, 422) == "CART_TOTAL_TOO_LARGE"
    assert "connection" not in too_much.headers
    after = data(await terminal.get(f"/carts/{cart_id}"))
    assert len(after["lines"]) == 60
    assert after["totals"] == first["totals"]


async def test_discounts_and_payments_are_bounded_and_none_is_worth_nothing(
    terminal: httpx.AsyncClient,
) -> None:
    cart_id = data(await terminal.post("/carts"), 201)["cartId"]
    cart = f"/carts/{cart_id}"
    data(await terminal.post(f"{cart}/lineItems", json=[{"itemCode": "ITEM0001", "quantity": 50}]))
    line_discounts = f"{cart}/lineItems/1/discounts"
    tiny = {"discountType": "percent", "value": "0.000001"}
    assert error_code(await terminal.post(line_discounts, json=tiny), 422) == (
        "DISCOUNT_ROUNDS_TO_ZERO"
    )
    one_cent = {"discountType": "amount", "value": "0.01"}
    for _ in range(10):
        data(await terminal.post(line_discounts, json=one_cent))
    eleventh = await terminal.post(line_discounts, json=one_cent)
    assert error_code(eleventh, 422) == "LINE_DISCOUNT_LIMIT"

    data(await terminal.post(f"{cart}/subtotal"))
    cart_discounts = f"{cart}/discounts"
    assert error_code(await terminal.post(cart_discounts, json=tiny), 422) == (
        "DISCOUNT_ROUNDS_TO_ZERO"
    )
    for _ in range(10):
        data(await terminal.post(cart_discounts, json=one_cent))
    assert error_code(await terminal.post(cart_discounts, json=one_cent), 422) == (
        "CART_DISCOUNT_LIMIT"
    )

    pay = f"{cart}/payments"
    for _ in range(20):
        data(await terminal.post(pay, json={"paymentCode": "CASH", "amount": "0.01"}))
    refused = await terminal.post(pay, json={"paymentCode": "CASH", "amount": "0.01"})
    assert error_code(refused, 422) == "PAYMENT_LIMIT"
    kept = data(await terminal.get(cart))
    assert len(kept["lines"][0]["discounts"]) == 10
    assert len(kept["cartDiscounts"]) == 10
    assert len(kept["payments"]) == 20


@pytest.mark.parametrize("transport", Transport)
async def test_a_wrong_key_sent_again_and_again_costs_one_database_read(
    carts: dict[Transport, CartProcess], transport: Transport
) -> None:
    cart = carts[transport]
    finds = {"command": "find"}
    wrong = {"X-API-Key": f"pos_{uuid.uuid4().hex}"}
    async with httpx.AsyncClient(base_url=f"{cart.url}/api/v1", timeout=10) as client:
        before = await metric_value(cart.url, "mongodb_commands_total", finds)
        for _ in range(20):
            assert error_code(await client.post("/carts", headers=wrong), 401) == (
                "INVALID_API_KEY"
            )
        after = await metric_value(cart.url, "mongodb_commands_total", finds)
    assert after - before == 1


async def test_auth_and_scoping(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    terminal: httpx.AsyncClient,
    terminal_numbers: TerminalNumbers,
) -> None:
    cart_id = await _cart_with_item(terminal)
    base = str(terminal.base_url).rstrip("/")
    async with httpx.AsyncClient(base_url=base, timeout=10) as anonymous:
        missing = await anonymous.get(f"/carts/{cart_id}")
        assert error_code(missing, 401) == "API_KEY_REQUIRED"
        wrong = await anonymous.get(f"/carts/{cart_id}", headers={"X-API-Key": "pos_nope"})
        assert error_code(wrong, 401) == "INVALID_API_KEY"
        issue = await anonymous.post(
            "/terminals", json={"tenantId": "demo", "storeCode": "S001", "terminalNo": 1}
        )
        assert error_code(issue, 401) == "AUTH_REQUIRED"
    async with await new_terminal(
        base.removesuffix("/api/v1"), stack.tokens.cart_admin, demo.tenant_id, "S001",
        terminal_numbers.take(), request_timeout=10,
    ) as other:  # fmt: skip
        assert error_code(await other.get(f"/carts/{cart_id}"), 404) == "CART_NOT_FOUND"
        stolen = await other.post(f"/carts/{cart_id}/lineItems", json=[{"itemCode": "ITEM0002"}])
        assert error_code(stolen, 404) == "CART_NOT_FOUND"
    assert error_code(await terminal.get("/carts/" + "0" * 32), 404) == "CART_NOT_FOUND"
    assert error_code(await terminal.get("/carts/not-an-id"), 422) == "VALIDATION_FAILED"
    assert error_code(await terminal.get("/transactions/999999"), 404) == "TRANSACTION_NOT_FOUND"


async def test_terminal_key_management(
    stack: Stack, cart_http: CartProcess, demo: DemoCatalog, terminal_numbers: TerminalNumbers
) -> None:
    number = terminal_numbers.take()
    headers = {"Authorization": f"Bearer {stack.tokens.cart_admin}"}
    async with httpx.AsyncClient(
        base_url=f"{cart_http.url}/api/v1", headers=headers, timeout=10
    ) as admin:
        body = {"tenantId": demo.tenant_id, "storeCode": "S003", "terminalNo": number}
        created = data(await admin.post("/terminals", json=body), 201)
        first_key = created["apiKey"]
        duplicate = await admin.post("/terminals", json=body)
        assert error_code(duplicate, 409) == "TERMINAL_EXISTS"
        assert duplicate.json()["error"]["details"]["terminalId"] == created["terminalId"]
        for bad in ({**body, "tenantId": "Bad!"}, {**body, "terminalNo": 0}, {**body, "x": 1}):
            assert error_code(await admin.post("/terminals", json=bad), 422) == "VALIDATION_FAILED"
        listed = data(await admin.get("/terminals", params={"tenantId": demo.tenant_id}))
        assert created["terminalId"] in {t["terminalId"] for t in listed}
        assert all("apiKey" not in t and "keyHash" not in t for t in listed)
        rotated = data(await admin.post(f"/terminals/{created['terminalId']}/rotate-key"))
        assert rotated["apiKey"] != first_key
        async with httpx.AsyncClient(base_url=f"{cart_http.url}/api/v1", timeout=10) as client:
            old = await client.post("/carts", headers={"X-API-Key": first_key})
            assert error_code(old, 401) == "INVALID_API_KEY"
            new = await client.post("/carts", headers={"X-API-Key": rotated["apiKey"]})
            assert data(new, 201)["storeCode"] == "S003"
            assert (await admin.delete(f"/terminals/{created['terminalId']}")).status_code == 204
            revoked = await client.post("/carts", headers={"X-API-Key": rotated["apiKey"]})
            assert error_code(revoked, 401) == "INVALID_API_KEY"
        missing = await admin.post("/terminals/" + "0" * 32 + "/rotate-key")
        assert error_code(missing, 404) == "TERMINAL_NOT_FOUND"
    async with httpx.AsyncClient(base_url=f"{cart_http.url}/api/v1", timeout=10) as client:
        service = {"Authorization": f"Bearer {stack.tokens.service}"}
        forbidden = await client.post("/terminals", json=body, headers=service)
        assert error_code(forbidden, 403) == "ADMIN_REQUIRED"


@pytest.mark.parametrize("transport", Transport)
async def test_observability(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
    transport: Transport,
) -> None:
    cart = carts[transport]
    async with await new_terminal(
        cart.url, stack.tokens.cart_admin, demo.tenant_id, "S001", terminal_numbers.take(),
        request_timeout=10,
    ) as c:  # fmt: skip
        cart_id = data(await c.post("/carts"), 201)["cartId"]
        # An unknown item: never in the item cache, so master-data is asked.
        missing = await c.post(
            f"/carts/{cart_id}/lineItems",
            json=[{"itemCode": "NOPE1"}],
            headers={"X-Request-ID": "obs-1"},
        )
        assert error_code(missing, 404) == "ITEM_NOT_FOUND"
        assert missing.json()["error"]["details"] == {"itemCodes": ["NOPE1"]}
        timing = missing.headers["server-timing"]
        assert "masterdata;dur=" in timing
        assert f'desc="{transport}"' in timing
        assert missing.headers["x-request-id"] == "obs-1"
        data(await c.post(f"/carts/{cart_id}/lineItems", json=[{"itemCode": "ITEM0001"}]))
        ready = data(await c.get(f"{cart.url}/ready"))
        assert ready == {"status": "ready", "mongodb": "ok"}  # master-data is not needed
        health = data(await c.get(f"{cart.url}/health"))
        assert (health["transport"], health["masterData"]) == (transport, "ok")
        assert health["catalogFeed"]["transport"] == transport
        assert health["catalogFeed"]["tenants"] >= 1
        assert {"items", "paymentMethods", "bytes", "hits", "misses"} <= set(health["itemCache"])
        metrics = (await c.get(f"{cart.url}/metrics")).text
        assert (
            f'masterdata_call_duration_seconds_count{{operation="get_items",outcome="ok",'
            f'transport="{transport}"}}'
        ) in metrics
        assert 'route="/api/v1/carts/{cart_id}/lineItems"' in metrics
        assert f'catalog_feed_tenants{{state="live",transport="{transport}"}}' in metrics
        assert 'item_cache_entries{kind="item"}' in metrics


async def test_abandoned_carts_expire(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
) -> None:
    """A cart expires CART_TTL_SECONDS after its last change; past that it is not found,
    although the database keeps it until its TTL monitor runs (once a minute)."""
    writer, reader = carts[Transport.HTTP], carts[Transport.GRPC]
    key = await register_terminal(
        writer.url, stack.tokens.cart_admin, demo.tenant_id, "S002", terminal_numbers.take()
    )
    async with (
        terminal_client(writer.url, key) as client,
        terminal_client(reader.url, key) as other,
    ):
        cart_id = data(await client.post("/carts"), 201)["cartId"]
        kept = data(
            await client.post(f"/carts/{cart_id}/lineItems", json=[{"itemCode": "ITEM0001"}])
        )
        lifetime = datetime.fromisoformat(kept["expiresAt"]) - datetime.fromisoformat(
            kept["updatedAt"]
        )
        assert lifetime == timedelta(seconds=CartSettings.model_fields["cart_ttl_seconds"].default)
        assert kept["expiresAt"] > kept["createdAt"]
        await expire(stack.mongodb_uri, demo.tenant_id, cart_id)
        assert error_code(await other.get(f"/carts/{cart_id}"), 404) == "CART_NOT_FOUND"
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        indexes = await mongo[f"cart_{demo.tenant_id}"]["carts"].index_information()
        assert await mongo[f"cart_{demo.tenant_id}"]["carts"].count_documents({"_id": cart_id})
    finally:
        await mongo.close()
    ttl = [spec for spec in indexes.values() if "expireAfterSeconds" in spec]
    assert ttl == [{"v": 2, "key": [("expires_at", 1)], "expireAfterSeconds": 0}]


# What the stored models keep for the server only (cart/api/public.py): never in an answer.
STORED_ONLY = {"tenantId", "version", "idempotencyKeys", "keyHash", "_id"}
CART_FIELDS = {
    "cartId", "storeCode", "terminalNo", "state", "lines", "cartDiscounts", "payments", "taxes",
    "totals", "receiptNo", "transactionId", "createdAt", "updatedAt", "expiresAt",
}  # fmt: skip
TRANSACTION_FIELDS = {
    "transactionId", "transactionType", "receiptNo", "storeCode", "terminalNo", "cartId",
    "lines", "cartDiscounts", "payments", "taxes", "totals", "createdAt",
}  # fmt: skip
TERMINAL_FIELDS = {"terminalId", "tenantId", "storeCode", "terminalNo", "createdAt", "updatedAt"}


def _names(value: object) -> set[str]:
    """Every field name in a JSON value, at any depth."""
    if isinstance(value, dict):
        return set(value).union(*(_names(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_names(v) for v in value))
    return set()


def _public_cart(answer: object) -> None:
    assert isinstance(answer, dict)
    assert set(answer) == CART_FIELDS
    assert not _names(answer) & STORED_ONLY, answer


async def test_answers_show_what_the_caller_needs_and_nothing_stored_only(
    stack: Stack, cart_http: CartProcess, demo: DemoCatalog, terminal_numbers: TerminalNumbers
) -> None:
    admin_headers = {"Authorization": f"Bearer {stack.tokens.cart_admin}"}
    async with httpx.AsyncClient(
        base_url=f"{cart_http.url}/api/v1", headers=admin_headers, timeout=10
    ) as admin:
        number = terminal_numbers.take()
        body = {"tenantId": demo.tenant_id, "storeCode": "S001", "terminalNo": number}
        created = data(await admin.post("/terminals", json=body), 201)
        # The admin token spans tenants: a terminal shows its tenant, never its key's hash.
        assert set(created) == TERMINAL_FIELDS | {"apiKey"}
        assert created["tenantId"] == demo.tenant_id
        listed = data(await admin.get("/terminals", params={"tenantId": demo.tenant_id}))
        assert all(set(t) == TERMINAL_FIELDS for t in listed)
        rotated = data(await admin.post(f"/terminals/{created['terminalId']}/rotate-key"))
        assert set(rotated) == TERMINAL_FIELDS | {"apiKey"}
    async with httpx.AsyncClient(
        base_url=f"{cart_http.url}/api/v1", headers={"X-API-Key": rotated["apiKey"]}, timeout=10
    ) as terminal:
        # Changes without a key, and with one, replayed (the kept bytes are the public answer).
        keys = [uuid.uuid4().hex for _ in range(3)]
        _public_cart(data(await terminal.post("/carts"), 201))
        key = {"Idempotency-Key": keys[0]}
        keyed = data(await terminal.post("/carts", headers=key), 201)
        _public_cart(keyed)
        replayed = await terminal.post("/carts", headers=key)
        assert replayed.headers["idempotent-replayed"] == "true"
        assert data(replayed, 201) == keyed
        cart = f"/carts/{keyed['cartId']}"
        items = [{"itemCode": "ITEM0001"}]
        key = {"Idempotency-Key": keys[1]}
        added = data(await terminal.post(f"{cart}/lineItems", json=items, headers=key))
        _public_cart(added)
        replayed = await terminal.post(f"{cart}/lineItems", json=items, headers=key)
        assert replayed.headers["idempotent-replayed"] == "true"
        assert data(replayed) == added
        _public_cart(data(await terminal.patch(f"{cart}/lineItems/1/quantity",
                                               json={"quantity": 2})))  # fmt: skip
        _public_cart(data(await terminal.post(f"{cart}/subtotal")))
        payment = {"paymentCode": "CASH", "amount": "1000"}
        _public_cart(data(await terminal.post(f"{cart}/payments", json=payment)))
        key = {"Idempotency-Key": keys[2]}
        billed = data(await terminal.post(f"{cart}/bill", headers=key))
        _public_cart(billed)
        assert billed["state"] == "Completed"
        assert billed["receiptNo"] >= 1
        assert isinstance(billed["transactionId"], str)
        replayed = await terminal.post(f"{cart}/bill", headers=key)
        assert data(replayed) == billed
        assert data(await terminal.post(f"{cart}/bill")) == billed  # unkeyed retry: as it is
        assert data(await terminal.get(cart)) == billed
        record = data(await terminal.get(f"/transactions/{billed['receiptNo']}"))
        assert set(record) == TRANSACTION_FIELDS
        assert not _names(record) & STORED_ONLY, record
        assert record["transactionId"] == billed["transactionId"]
        assert record["lines"] == billed["lines"]
    # The stored cart still has what the answers leave out.
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        stored = await mongo[f"cart_{demo.tenant_id}"]["carts"].find_one({"_id": keyed["cartId"]})
    finally:
        await mongo.close()
    assert stored is not None
    assert stored["tenant_id"] == demo.tenant_id
    assert stored["version"] == 6  # created, then five changes
    assert stored["idempotency_keys"] == keys
