"""Concurrent changes to one cart never lose an update, within one cart process and across two
(the second case exercises the version compare-and-swap, not just the in-process lock)."""

from __future__ import annotations

import asyncio
from decimal import ROUND_HALF_UP, Decimal

import httpx

from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import CartProcess
from tests.support import Stack, TerminalNumbers, data, register_terminal, stored_version

ADDS = 50


async def _fifty_adds(urls: list[str], key: str, codes: list[str]) -> dict[str, object]:
    clients = [
        httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60) for url in urls
    ]
    try:
        cart_id = data(await clients[0].post("/api/v1/carts"), 201)["cartId"]
        responses = await asyncio.gather(
            *(
                clients[n % len(clients)].post(
                    f"/api/v1/carts/{cart_id}/lineItems", json=[{"itemCode": code}]
                )
                for n, code in enumerate(codes)
            )
        )
        assert [r.status_code for r in responses] == [200] * len(codes), [
            r.text for r in responses if r.status_code != 200
        ]
        final: dict[str, object] = data(await clients[0].get(f"/api/v1/carts/{cart_id}"))
        return final
    finally:
        for client in clients:
            await client.aclose()


def _price(demo: DemoCatalog, store: str, prices: dict[str, Decimal], code: str) -> Decimal:
    override = demo.store_price(store, code)
    return prices[code] if override is None else override


async def _check(
    stack: Stack, cart: dict[str, object], codes: list[str], demo: DemoCatalog, store: str
) -> None:
    lines = cart["lines"]
    assert isinstance(lines, list)
    assert len(lines) == ADDS
    assert sorted(line["lineNo"] for line in lines) == list(range(1, ADDS + 1))
    assert sorted(line["itemCode"] for line in lines) == sorted(codes)
    cart_id = cart["cartId"]
    assert isinstance(cart_id, str)
    assert await stored_version(stack.mongodb_uri, demo.tenant_id, cart_id) == ADDS + 1
    prices = {item["itemCode"]: Decimal(item["unitPrice"]) for item in demo.items}
    # Each line: quantity 1 x its price (store override first), rounded half-up to cents.
    expected = sum(
        (
            _price(demo, store, prices, code).quantize(Decimal("0.01"), ROUND_HALF_UP)
            for code in codes
        ),
        Decimal(0),
    )
    totals = cart["totals"]
    assert isinstance(totals, dict)
    assert Decimal(totals["grossAmount"]) == expected


async def test_fifty_concurrent_adds_on_one_cart_all_land(
    stack: Stack, cart_http: CartProcess, demo: DemoCatalog, terminal_numbers: TerminalNumbers
) -> None:
    key = await register_terminal(
        cart_http.url, stack.tokens.admin, demo.tenant_id, "S001", terminal_numbers.take()
    )
    codes = demo.sellable_codes[:ADDS]
    await _check(stack, await _fifty_adds([cart_http.url], key, codes), codes, demo, "S001")


async def test_fifty_concurrent_adds_through_two_cart_processes_all_land(
    stack: Stack,
    cart_http: CartProcess,
    cart_grpc: CartProcess,
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
) -> None:
    key = await register_terminal(
        cart_http.url, stack.tokens.admin, demo.tenant_id, "S001", terminal_numbers.take()
    )
    codes = demo.sellable_codes[ADDS : 2 * ADDS]
    before = await _conflicts([cart_http.url, cart_grpc.url])
    final = await _fifty_adds([cart_http.url, cart_grpc.url], key, codes)
    await _check(stack, final, codes, demo, "S001")
    # The two processes did collide, so the compare-and-swap (not a lock) kept every add.
    assert await _conflicts([cart_http.url, cart_grpc.url]) > before


async def _conflicts(urls: list[str]) -> float:
    total = 0.0
    async with httpx.AsyncClient(timeout=10) as client:
        for url in urls:
            for line in (await client.get(f"{url}/metrics")).text.splitlines():
                if line.startswith("cart_write_conflicts_total "):
                    total += float(line.split()[1])
    return total
