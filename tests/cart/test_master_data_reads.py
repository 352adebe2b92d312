"""What cart reads from master-data is current, on both transports: a price change or a soft
delete shows on master-data's very next lookup, also while other lookups race with the write,
and on cart's very next lookup once its catalog feed has applied it (the feed's lag, the only
window the design allows); and a change the cart's state refuses costs no master-data call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from grpc import aio

from pos_commons.grpc_stubs.pos.masterdata.v1 import item_service_pb2, item_service_pb2_grpc
from pos_commons.transport import Transport
from pos_devstack.stack import CartProcess, MasterDataProcess
from tests.support import (
    Stack,
    TerminalNumbers,
    Till,
    data,
    error_code,
    metric_value,
    served_from_the_cache,
)

STORE, ITEM, OTHER = "S1", "I1", "I2"


@pytest.fixture
async def catalog(admin: httpx.AsyncClient, tenant: str) -> str:
    """A small catalog of the test's own tenant: other tests rely on the demo prices."""
    base = f"/api/v1/tenants/{tenant}"
    data(await admin.post(f"{base}/stores", json={"storeCode": STORE, "name": "One"}), 201)
    data(await admin.post(f"{base}/categories", json={"categoryCode": "C1", "name": "C"}), 201)
    for code in (ITEM, OTHER):
        item = {
            "itemCode": code,
            "description": code,
            "unitPrice": "5.00",
            "categoryCode": "C1",
            "taxCode": "STD",
        }
        data(await admin.post(f"{base}/items", json=item), 201)
    price = {"itemCode": ITEM, "price": "1.00"}
    data(await admin.post(f"{base}/stores/{STORE}/prices", json=price), 201)
    payment = {"paymentCode": "CASH", "name": "Cash", "canGiveChange": True,
               "canExceedBalance": True}  # fmt: skip
    data(await admin.post(f"{base}/paymentMethods", json=payment), 201)
    return tenant


@pytest.fixture
async def tills(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    catalog: str,
    terminal_numbers: TerminalNumbers,
) -> AsyncIterator[dict[Transport, Till]]:
    """A terminal with an open cart at each transport's cart."""
    opened = {}
    for transport, cart in carts.items():
        opened[transport] = await Till.open(
            cart.url, stack.tokens.cart_admin, catalog, STORE, terminal_numbers.take()
        )
    yield opened
    for till in opened.values():
        await till.close()


async def _new_cart(client: httpx.AsyncClient) -> str:
    cart_id: str = data(await client.post("/carts"), 201)["cartId"]
    return cart_id


async def _applied_by(cart: CartProcess, kind: str) -> float:
    """Changes of `kind` the cart's catalog feed has applied so far."""
    return await metric_value(cart.url, "catalog_feed_changes_applied_total", {"kind": kind})


async def _applied(carts: dict[Transport, CartProcess], kind: str) -> dict[Transport, float]:
    return {transport: await _applied_by(cart, kind) for transport, cart in carts.items()}


async def _until_applied(cart: CartProcess, kind: str, before: float) -> None:
    """Waits (10 s at most) until cart's feed has applied a change of `kind` after `before`."""
    async with asyncio.timeout(10):
        while True:
            if await _applied_by(cart, kind) > before:
                return
            await asyncio.sleep(0.01)


async def test_a_price_change_shows_on_the_very_next_lookup_despite_racing_readers(
    admin: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    master_data: MasterDataProcess,
    stack: Stack,
    catalog: str,
    carts: dict[Transport, CartProcess],
    tills: dict[Transport, Till],
) -> None:
    base = f"/api/v1/tenants/{catalog}"
    detail = f"{base}/stores/{STORE}/itemDetails/{ITEM}"
    for till in tills.values():  # its feed live, the item kept: changes apply in place
        assert (await served_from_the_cache(till, ITEM)).price == "1.00"
    channel = aio.insecure_channel(master_data.grpc_target)
    items = item_service_pb2_grpc.ItemServiceStub(channel)
    metadata = (("authorization", f"Bearer {stack.tokens.service}"),)
    request = item_service_pb2.GetItemDetailRequest(
        tenant_id=catalog, store_code=STORE, item_code=ITEM
    )
    stop = asyncio.Event()

    async def race() -> int:
        """Keeps lookups in flight, so some read MongoDB while each write lands."""
        lookups = 0
        while not stop.is_set():
            await asyncio.gather(
                reader.get(detail), items.GetItemDetail(request, metadata=metadata)
            )
            lookups += 2
        return lookups

    racers = [asyncio.create_task(race()) for _ in range(6)]
    try:
        for step in range(1, 21):
            price = f"{Decimal('1.00') + Decimal(step) / 100}"
            applied = await _applied(carts, "storePrice")
            changed = await admin.patch(
                f"{base}/stores/{STORE}/prices/{ITEM}", json={"price": price}
            )
            data(changed)
            assert data(await reader.get(detail))["effectivePrice"] == price
            answer = await items.GetItemDetail(request, metadata=metadata)
            assert answer.item.effective_price == price
            for transport, till in tills.items():
                await _until_applied(carts[transport], "storePrice", applied[transport])
                scan = await till.scan(ITEM)
                assert scan.price == price, f"{transport} sold at an old price: {scan}"
                assert not scan.asked_master_data, f"{transport}: {scan}"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        lookups = await asyncio.gather(*racers)
        await channel.close()
    assert sum(lookups) > 40


async def test_a_soft_delete_stops_the_sale_on_the_very_next_lookup(
    admin: httpx.AsyncClient,
    catalog: str,
    carts: dict[Transport, CartProcess],
    tills: dict[Transport, Till],
) -> None:
    for till in tills.values():  # both transports have it cached now
        await served_from_the_cache(till, OTHER)
    applied = await _applied(carts, "item")
    deleted = await admin.delete(f"/api/v1/tenants/{catalog}/items/{OTHER}")
    assert deleted.status_code == 204
    for transport, till in tills.items():
        await _until_applied(carts[transport], "item", applied[transport])
        refused = await till.scan(OTHER)
        assert (refused.status, refused.code) == (422, "ITEM_NOT_SELLABLE"), transport
        assert not refused.asked_master_data, transport


async def _master_data_calls(client: httpx.AsyncClient) -> float:
    """Every call master-data has answered (HTTP routes but /metrics, and gRPC methods)."""
    total = 0.0
    for line in (await client.get("/metrics")).text.splitlines():
        http = line.startswith("http_request_duration_seconds_count{")
        grpc = line.startswith("grpc_server_handled_total{")
        if (http and 'route="/metrics"' not in line) or grpc:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("transport", Transport)
async def test_a_refused_change_makes_no_master_data_call(
    anonymous: httpx.AsyncClient, tills: dict[Transport, Till], transport: Transport
) -> None:
    client = tills[transport].client
    cart = await _new_cart(client)
    data(await client.post(f"/carts/{cart}/cancel"))
    before = await _master_data_calls(anonymous)
    refused = await client.post(f"/carts/{cart}/lineItems", json=[{"itemCode": ITEM}])
    assert error_code(refused, 409) == "ADD_ITEMS_NOT_ALLOWED_IN_CANCELLED"
    payment = {"paymentCode": "CASH", "amount": "1.00"}
    refused = await client.post(f"/carts/{cart}/payments", json=payment)
    assert error_code(refused, 409) == "ADD_PAYMENT_NOT_ALLOWED_IN_CANCELLED"
    entering = await _new_cart(client)
    refused = await client.post(f"/carts/{entering}/payments", json=payment)
    assert error_code(refused, 409) == "ADD_PAYMENT_NOT_ALLOWED_IN_IDLE"
    assert await _master_data_calls(anonymous) == before
    # The counting itself works: an allowed change is one call.
    data(await client.post(f"/carts/{entering}/lineItems", json=[{"itemCode": ITEM}]))
    assert await _master_data_calls(anonymous) == before + 1
