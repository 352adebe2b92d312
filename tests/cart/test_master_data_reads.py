"""What cart reads from master-data is current, on both transports: a price change or a soft
delete shows on the very next lookup, also while other lookups race with the write; and a
change the cart's state refuses costs no master-data call at all."""

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
from tests.support import Stack, TerminalNumbers, data, error_code, new_terminal

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
async def terminals(
    stack: Stack,
    carts: dict[Transport, CartProcess],
    catalog: str,
    terminal_numbers: TerminalNumbers,
) -> AsyncIterator[dict[Transport, httpx.AsyncClient]]:
    clients = {}
    for transport, cart in carts.items():
        clients[transport] = await new_terminal(
            cart.url, stack.tokens.cart_admin, catalog, STORE, terminal_numbers.take()
        )
    yield clients
    for client in clients.values():
        await client.aclose()


async def _new_cart(client: httpx.AsyncClient) -> str:
    cart_id: str = data(await client.post("/carts"), 201)["cartId"]
    return cart_id


async def test_a_price_change_shows_on_the_very_next_lookup_despite_racing_readers(
    admin: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    master_data: MasterDataProcess,
    stack: Stack,
    catalog: str,
    terminals: dict[str, httpx.AsyncClient],
) -> None:
    base = f"/api/v1/tenants/{catalog}"
    detail = f"{base}/stores/{STORE}/itemDetails/{ITEM}"
    carts = {transport: await _new_cart(client) for transport, client in terminals.items()}
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
            changed = await admin.patch(
                f"{base}/stores/{STORE}/prices/{ITEM}", json={"price": price}
            )
            data(changed)
            assert data(await reader.get(detail))["effectivePrice"] == price
            answer = await items.GetItemDetail(request, metadata=metadata)
            assert answer.item.effective_price == price
            for transport, client in terminals.items():
                added = await client.post(
                    f"/carts/{carts[transport]}/lineItems", json=[{"itemCode": ITEM}]
                )
                line = data(added)["lines"][-1]
                assert line["unitPrice"] == price, f"{transport} sold at an old price"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        lookups = await asyncio.gather(*racers)
        await channel.close()
    assert sum(lookups) > 40


async def test_a_soft_delete_stops_the_sale_on_the_very_next_lookup(
    admin: httpx.AsyncClient, catalog: str, terminals: dict[str, httpx.AsyncClient]
) -> None:
    carts = {transport: await _new_cart(client) for transport, client in terminals.items()}
    for transport, client in terminals.items():  # both transports have it cached now
        data(await client.post(f"/carts/{carts[transport]}/lineItems", json=[{"itemCode": OTHER}]))
    deleted = await admin.delete(f"/api/v1/tenants/{catalog}/items/{OTHER}")
    assert deleted.status_code == 204
    for transport, client in terminals.items():
        refused = await client.post(
            f"/carts/{carts[transport]}/lineItems", json=[{"itemCode": OTHER}]
        )
        assert error_code(refused, 422) == "ITEM_NOT_SELLABLE", transport


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
    anonymous: httpx.AsyncClient, terminals: dict[str, httpx.AsyncClient], transport: Transport
) -> None:
    client = terminals[transport]
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
