"""A cart process changes a cart from its cart cache (the carts it wrote last) without reading
it first, and a cached cart never decides an answer: another replica's change is neither lost
nor ignored, a refusal is decided on the stored cart, and reads always come from the database.

The two session cart processes (one per transport) share the database, so each plays the
other's "second replica"; every case runs in both directions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from pos_commons.transport import Transport
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import CartProcess
from tests.support import (
    Stack,
    TerminalNumbers,
    data,
    error_code,
    metric_value,
    register_terminal,
    stored_version,
    terminal_client,
)

DIRECTIONS = [(Transport.HTTP, Transport.GRPC), (Transport.GRPC, Transport.HTTP)]


@asynccontextmanager
async def _terminal(
    stack: Stack, carts: dict[Transport, CartProcess], demo: DemoCatalog, numbers: TerminalNumbers
) -> AsyncIterator[dict[Transport, httpx.AsyncClient]]:
    """One terminal's client to each cart process."""
    key = await register_terminal(
        carts[Transport.HTTP].url, stack.tokens.cart_admin, demo.tenant_id, "S001", numbers.take()
    )
    clients = {
        name: terminal_client(process.url, key, request_timeout=30)
        for name, process in carts.items()
    }
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


@pytest.fixture
async def clients(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
) -> AsyncIterator[dict[Transport, httpx.AsyncClient]]:
    """A new terminal's client to each cart process."""
    async with _terminal(stack, carts, demo, terminal_numbers) as made:
        yield made


async def _new_cart(client: httpx.AsyncClient, codes: list[str]) -> str:
    cart_id: str = data(await client.post("/carts"), 201)["cartId"]
    for code in codes:
        await _add(client, cart_id, code)
    return cart_id


async def _add(client: httpx.AsyncClient, cart_id: str, code: str) -> Any:
    return data(await client.post(f"/carts/{cart_id}/lineItems", json=[{"itemCode": code}]))


@pytest.mark.parametrize("transport", list(Transport))
async def test_changes_start_from_the_cached_cart_without_a_read(
    clients: dict[Transport, httpx.AsyncClient],
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    transport: Transport,
) -> None:
    url = carts[transport].url
    client = clients[transport]
    codes = demo.sellable_codes[:3]
    cart_id = await _new_cart(client, codes[:1])
    finds = await metric_value(url, "mongodb_commands_total", {"command": "find"})
    hits = await metric_value(url, "cart_cache_lookups_total", {"result": "hit"})

    await _add(client, cart_id, codes[1])
    await _add(client, cart_id, codes[2])
    data(await client.patch(f"/carts/{cart_id}/lineItems/1/quantity",
                            json={"quantity": 2}))  # fmt: skip
    paying = data(await client.post(f"/carts/{cart_id}/subtotal"))

    assert await metric_value(url, "mongodb_commands_total", {"command": "find"}) == finds
    assert await metric_value(url, "cart_cache_lookups_total", {"result": "hit"}) == hits + 4
    assert paying["state"] == "Paying"
    assert [line["quantity"] for line in paying["lines"]] == [2, 1, 1]
    # A read is answered from the database, never from the cart cache.
    assert data(await client.get(f"/carts/{cart_id}")) == paying
    assert await metric_value(url, "mongodb_commands_total", {"command": "find"}) == finds + 1


@pytest.mark.parametrize(("mine", "other"), DIRECTIONS)
async def test_a_stale_cached_cart_loses_no_change_and_the_cart_stops_being_kept(
    clients: dict[Transport, httpx.AsyncClient],
    stack: Stack,
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    mine: Transport,
    other: Transport,
) -> None:
    url = carts[mine].url
    codes = demo.sellable_codes[10:15]
    cart_id = await _new_cart(clients[mine], codes[:1])
    stale = await metric_value(url, "cart_cache_stale_total")

    await _add(clients[other], cart_id, codes[1])
    after = await _add(clients[mine], cart_id, codes[2])  # from a cached cart without line 2

    assert [line["itemCode"] for line in after["lines"]] == codes[:3]
    assert await stored_version(stack.mongodb_uri, demo.tenant_id, cart_id) == 4
    assert await metric_value(url, "cart_cache_stale_total") == stale + 1

    # Shared now: the next changes read first, and no cached cart goes stale again.
    await _add(clients[other], cart_id, codes[3])
    final = await _add(clients[mine], cart_id, codes[4])
    assert [line["itemCode"] for line in final["lines"]] == codes
    assert await metric_value(url, "cart_cache_stale_total") == stale + 1


@pytest.mark.parametrize(("mine", "other"), DIRECTIONS)
async def test_a_cached_cart_that_allows_a_change_the_stored_cart_refuses_is_refused(
    clients: dict[Transport, httpx.AsyncClient],
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    mine: Transport,
    other: Transport,
) -> None:
    codes = demo.sellable_codes[20:22]
    cart_id = await _new_cart(clients[mine], codes[:1])
    data(await clients[other].post(f"/carts/{cart_id}/cancel"))

    response = await clients[mine].post(
        f"/carts/{cart_id}/lineItems", json=[{"itemCode": codes[1]}]
    )
    assert error_code(response, 409) == "ADD_ITEMS_NOT_ALLOWED_IN_CANCELLED"
    stored = data(await clients[mine].get(f"/carts/{cart_id}"))
    assert stored["state"] == "Cancelled"
    assert len(stored["lines"]) == 1


@pytest.mark.parametrize(("mine", "other"), DIRECTIONS)
async def test_a_refusal_made_from_a_stale_cached_cart_is_decided_again_on_the_stored_cart(
    clients: dict[Transport, httpx.AsyncClient],
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    mine: Transport,
    other: Transport,
) -> None:
    """My cached carts take items (one cart) and payments (another); the other replica billed both
    meanwhile. An unknown item or payment method (refused by master-data, not by the cached cart)
    answers the stored cart's state, 409, not master-data's 404, and a key keeps that 409."""
    entering = await _new_cart(clients[mine], demo.sellable_codes[24:25])
    paying = await _new_cart(clients[mine], demo.sellable_codes[25:26])
    data(await clients[mine].post(f"/carts/{paying}/subtotal"))
    for cart_id in (entering, paying):
        await _pay_and_bill(clients[other], cart_id)

    calls = {
        entering: ("lineItems", [{"itemCode": "NO-SUCH-ITEM"}], "ADD_ITEMS"),
        paying: (
            "payments",
            {"paymentCode": "NO-SUCH-METHOD", "amount": "1.00"},
            "ADD_PAYMENT",
        ),
    }
    for cart_id, (path, body, action) in calls.items():
        headers = {"Idempotency-Key": f"stale-{cart_id}"}
        for _ in range(2):
            response = await clients[mine].post(
                f"/carts/{cart_id}/{path}", json=body, headers=headers
            )
            assert error_code(response, 409) == f"{action}_NOT_ALLOWED_IN_COMPLETED"
        assert response.headers["idempotent-replayed"] == "true"


async def _pay_and_bill(client: httpx.AsyncClient, cart_id: str) -> None:
    cart = data(await client.get(f"/carts/{cart_id}"))
    if cart["state"] == "EnteringItem":
        cart = data(await client.post(f"/carts/{cart_id}/subtotal"))
    payment = {"paymentCode": "CASH", "amount": cart["totals"]["balanceDue"]}
    data(await client.post(f"/carts/{cart_id}/payments", json=payment))
    data(await client.post(f"/carts/{cart_id}/bill"))


@pytest.mark.parametrize(("mine", "other"), DIRECTIONS)
async def test_a_cached_cart_that_refuses_a_change_the_stored_cart_allows_does_not_refuse(
    clients: dict[Transport, httpx.AsyncClient],
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    mine: Transport,
    other: Transport,
) -> None:
    codes = demo.sellable_codes[30:33]
    cart_id = await _new_cart(clients[mine], codes[:1])
    # My cached cart: Paying.
    data(await clients[mine].post(f"/carts/{cart_id}/subtotal"))
    data(await clients[other].post(f"/carts/{cart_id}/resume-item-entry"))

    # The state my cached cart would refuse in...
    after = await _add(clients[mine], cart_id, codes[1])
    assert after["state"] == "EnteringItem"
    # ...and a line my cached cart does not have.
    await _add(clients[other], cart_id, codes[2])
    changed = data(
        await clients[mine].patch(f"/carts/{cart_id}/lineItems/3/quantity", json={"quantity": 4})
    )
    assert [line["quantity"] for line in changed["lines"]] == [1, 1, 4]


@pytest.mark.parametrize("transport", list(Transport))
async def test_a_change_the_cached_cart_refuses_is_refused_before_master_data_is_asked(
    clients: dict[Transport, httpx.AsyncClient],
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    transport: Transport,
) -> None:
    client = clients[transport]
    cart_id = await _new_cart(client, demo.sellable_codes[40:41])
    data(await client.post(f"/carts/{cart_id}/subtotal"))
    response = await client.post(f"/carts/{cart_id}/lineItems", json=[{"itemCode": "NO-SUCH-ITEM"}])
    # The state answers first (409), not the unknown item (404).
    assert error_code(response, 409) == "ADD_ITEMS_NOT_ALLOWED_IN_PAYING"


@pytest.mark.parametrize("transport", list(Transport))
async def test_a_kept_cart_is_not_found_by_another_terminal(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
    transport: Transport,
) -> None:
    async with (
        _terminal(stack, carts, demo, terminal_numbers) as mine,
        _terminal(stack, carts, demo, terminal_numbers) as theirs,
    ):
        cart_id = await _new_cart(mine[transport], demo.sellable_codes[50:51])
        response = await theirs[transport].post(
            f"/carts/{cart_id}/lineItems", json=[{"itemCode": demo.sellable_codes[51]}]
        )
        assert error_code(response, 404) == "CART_NOT_FOUND"
        assert len(data(await mine[transport].get(f"/carts/{cart_id}"))["lines"]) == 1


async def _paying(client: httpx.AsyncClient, codes: list[str]) -> tuple[str, Any]:
    """A cart with `codes`, subtotalled: its id and totals."""
    cart_id = await _new_cart(client, codes)
    return cart_id, data(await client.post(f"/carts/{cart_id}/subtotal"))["totals"]


async def _pay(client: httpx.AsyncClient, cart_id: str, amount: str) -> Any:
    payment = {"paymentCode": "CASH", "amount": amount}
    return data(await client.post(f"/carts/{cart_id}/payments", json=payment))


@pytest.mark.parametrize("transport", list(Transport))
async def test_a_bill_starts_from_the_cached_cart_without_a_read(
    clients: dict[Transport, httpx.AsyncClient],
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    transport: Transport,
) -> None:
    url = carts[transport].url
    client = clients[transport]
    cart_id, totals = await _paying(client, demo.sellable_codes[60:62])
    await _pay(client, cart_id, totals["balanceDue"])
    finds = await metric_value(url, "mongodb_commands_total", {"command": "find"})

    billed = data(await client.post(f"/carts/{cart_id}/bill"))

    assert await metric_value(url, "mongodb_commands_total", {"command": "find"}) == finds
    assert billed["state"] == "Completed"
    record = data(await client.get(f"/transactions/{billed['receiptNo']}"))
    assert record["cartId"] == cart_id
    # Closed carts are not kept: a retried bill reads the stored cart and answers it.
    assert data(await client.post(f"/carts/{cart_id}/bill")) == billed


@pytest.mark.parametrize(("mine", "other"), DIRECTIONS)
async def test_a_bill_from_a_stale_cached_cart_bills_the_stored_cart_and_skips_no_receipt_number(
    clients: dict[Transport, httpx.AsyncClient],
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    mine: Transport,
    other: Transport,
) -> None:
    codes = demo.sellable_codes[70:72]
    first, totals = await _paying(clients[mine], codes[:1])
    await _pay(clients[mine], first, totals["balanceDue"])
    first_receipt = data(await clients[mine].post(f"/carts/{first}/bill"))["receiptNo"]

    cart_id, totals = await _paying(clients[mine], codes)
    await _pay(clients[mine], cart_id, "1.00")
    await _pay(clients[other], cart_id, totals["balanceDue"])  # my cached cart lacks this one
    billed = data(await clients[mine].post(f"/carts/{cart_id}/bill"))

    assert [payment["amount"] for payment in billed["payments"]] == [
        "1.00",
        totals["balanceDue"],
    ]
    # The attempt from the stale cached cart was rolled back with its receipt number.
    assert billed["receiptNo"] == first_receipt + 1


@pytest.mark.parametrize(("mine", "other"), DIRECTIONS)
async def test_a_bill_the_cached_cart_allows_and_the_stored_cart_refuses_is_refused(
    clients: dict[Transport, httpx.AsyncClient],
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    mine: Transport,
    other: Transport,
) -> None:
    cart_id, totals = await _paying(clients[mine], demo.sellable_codes[80:81])
    await _pay(clients[mine], cart_id, totals["balanceDue"])
    data(await clients[other].post(f"/carts/{cart_id}/cancel"))

    response = await clients[mine].post(f"/carts/{cart_id}/bill")

    assert error_code(response, 409) == "BILL_NOT_ALLOWED_IN_CANCELLED"
    assert data(await clients[mine].get(f"/carts/{cart_id}"))["state"] == "Cancelled"


@pytest.mark.parametrize(("mine", "other"), DIRECTIONS)
async def test_a_bill_the_cached_cart_refuses_and_the_stored_cart_allows_is_billed(
    clients: dict[Transport, httpx.AsyncClient],
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    mine: Transport,
    other: Transport,
) -> None:
    cart_id, totals = await _paying(clients[mine], demo.sellable_codes[90:91])
    await _pay(clients[other], cart_id, totals["balanceDue"])  # my cached cart: nothing paid

    billed = data(await clients[mine].post(f"/carts/{cart_id}/bill"))

    assert billed["state"] == "Completed"
    assert billed["totals"]["balanceDue"] == "0.00"
