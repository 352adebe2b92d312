"""cart's item cache fed by master-data's catalog feed, against the real processes, on both
transports: every kind of change reaches every cart process, served from the cache (no hop),
and a warmed scan makes no master-data call at all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from pos_commons.transport import Transport
from pos_devstack.stack import CartProcess, start_cart
from tests.support import (
    WITHIN,
    Scan,
    Stack,
    TerminalNumbers,
    Till,
    data,
    metric_value,
    served_from_the_cache,
    small_catalog,
)


@pytest.fixture(scope="module")
def second_carts(stack: Stack) -> Iterator[dict[Transport, CartProcess]]:
    """A second cart process per transport, beside the session's."""
    running = {
        transport: start_cart(
            stack.mongodb_uri,
            stack.tokens,
            stack.master_data,
            transport=transport,
            log_dir=stack.log_dir,
            name=f"cart-{transport}-second",
        )
        for transport in Transport
    }
    yield running
    for cart in running.values():
        cart.process.stop()


async def shows_everywhere(tills: list[Till], code: str, check: Callable[[Scan], bool]) -> None:
    """Every till's next scans of `code` pass `check`, answered from the cache: once one has,
    none goes back (never the old value after the change is applied)."""
    for till in tills:
        async with asyncio.timeout(WITHIN):
            scan = await till.scan(code)
            while not check(scan):
                await asyncio.sleep(0.01)
                scan = await till.scan(code)
        assert not scan.asked_master_data, scan
        for _ in range(3):
            again = await till.scan(code)
            assert check(again), again
            assert not again.asked_master_data, again


@pytest.mark.parametrize("transport", list(Transport))
async def test_each_kind_of_change_reaches_every_cart_process_through_the_feed(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    second_carts: dict[Transport, CartProcess],
    terminal_numbers: TerminalNumbers,
    transport: Transport,
) -> None:
    catalog = await small_catalog(stack.master_data.url, stack.tokens.admin)
    tenant = catalog.tenant_id
    tills = [
        await Till.open(cart.url, stack.tokens.cart_admin, tenant, "S001", terminal_numbers.take())
        for cart in (carts[transport], second_carts[transport])
    ]
    base = f"/api/v1/tenants/{tenant}"
    unit_price_4 = catalog.items[3]["unitPrice"]
    headers = {"Authorization": f"Bearer {stack.tokens.admin}"}
    admin = httpx.AsyncClient(base_url=stack.master_data.url, headers=headers, timeout=10)

    async def change(method: str, path: str, json: object = None) -> None:
        response = await admin.request(method, f"{base}{path}", json=json)
        assert response.status_code in (200, 201, 204), response.text

    try:
        for till in tills:
            for code in ("ITEM0001", "ITEM0004", "ITEM0006", "ITEM0008"):
                await served_from_the_cache(till, code)

        await change("PATCH", "/items/ITEM0001", {"unitPrice": "1.23"})
        await shows_everywhere(tills, "ITEM0001", lambda scan: scan.price == "1.23")

        await change("POST", "/stores/S001/prices", {"itemCode": "ITEM0004", "price": "0.50"})
        await shows_everywhere(tills, "ITEM0004", lambda scan: scan.price == "0.50")

        await change("DELETE", "/stores/S001/prices/ITEM0004")
        await shows_everywhere(tills, "ITEM0004", lambda scan: scan.price == unit_price_4)

        await change("PATCH", "/taxRules/RED", {"rate": "9.5"})  # ITEM0006's tax code
        await shows_everywhere(
            tills, "ITEM0006", lambda scan: scan.line is not None and
            scan.line["taxRule"]["rate"] == "9.5",
        )  # fmt: skip

        await change("DELETE", "/items/ITEM0008")  # a soft delete: no longer sold
        await shows_everywhere(tills, "ITEM0008", lambda scan: scan.code == "ITEM_NOT_SELLABLE")
    finally:
        await admin.aclose()
        for till in tills:
            await till.close()


@pytest.mark.parametrize("transport", list(Transport))
async def test_a_warmed_scan_makes_no_master_data_call(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    terminal_numbers: TerminalNumbers,
    transport: Transport,
) -> None:
    cart = carts[transport]
    catalog = await small_catalog(stack.master_data.url, stack.tokens.admin)
    till = await Till.open(
        cart.url, stack.tokens.cart_admin, catalog.tenant_id, "S002", terminal_numbers.take()
    )
    calls: Callable[[], Awaitable[float]] = lambda: metric_value(  # noqa: E731
        cart.url, "masterdata_call_duration_seconds_count", {"transport": transport}
    )
    try:
        codes = ["ITEM0001", "ITEM0002", "ITEM0005", "ITEM0009"]
        for code in codes:
            await served_from_the_cache(till, code)
        before = await calls()
        for _ in range(5):
            for code in codes:
                scan = await till.scan(code)
                assert scan.status == 200, scan
                assert not scan.asked_master_data, scan
        assert await calls() == before
        health = data(await till.client.get(f"{cart.url}/health"))
        assert health["catalogFeed"]["live"] >= 1
        assert health["itemCache"]["hits"] >= 20
    finally:
        await till.close()
