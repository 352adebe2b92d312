"""A store keeps selling while master-data is away, on both transports, against real processes:
cached items and cash payments sell and bills complete, unseen items are 503, cart stays
ready; past ITEM_CACHE_OFFLINE_SECONDS lookups go to master-data; when it is back, the feed
resumes from its token and brings what changed meanwhile (written through another replica);
a token whose history is gone makes cart start over.

master-data here is this module's own (it is stopped and started again on the same ports).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson.decimal128 import Decimal128
from pymongo import AsyncMongoClient

from pos_commons.transport import Transport
from pos_devstack.processes import free_port
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    Tokens,
    start_cart,
    start_master_data,
    start_secantus,
)
from tests.support import Stack, TerminalNumbers, Till, data, served_from_the_cache, small_catalog

pytestmark = pytest.mark.drill

OFFLINE_SECONDS = 8.0


@dataclass
class Pair:
    mongodb_uri: str
    tokens: Tokens
    master: MasterDataProcess
    carts: dict[Transport, CartProcess]
    log_dir: Path

    def restart_master_data(self) -> None:
        self.master = start_master_data(
            self.mongodb_uri, self.tokens, http_port=self.master.http_port,
            grpc_port=self.master.grpc_port, log_dir=self.log_dir, name="master-data-again",
        )  # fmt: skip


@pytest.fixture
async def pair(stack: Stack, tmp_path: Path) -> AsyncIterator[Pair]:
    running = await _start_pair(stack.mongodb_uri, stack.tokens, tmp_path)
    try:
        yield running
    finally:
        _stop(running)


async def _start_pair(mongodb_uri: str, tokens: Tokens, log_dir: Path) -> Pair:
    master = start_master_data(
        mongodb_uri, tokens, http_port=free_port(), grpc_port=free_port(), log_dir=log_dir
    )
    carts = {
        transport: start_cart(
            mongodb_uri,
            tokens,
            master,
            transport=transport,
            log_dir=log_dir,
            name=f"cart-{transport}",
            extra_env={"ITEM_CACHE_OFFLINE_SECONDS": str(OFFLINE_SECONDS)},
        )
        for transport in Transport
    }
    return Pair(mongodb_uri, tokens, master, carts, log_dir)


def _stop(pair: Pair) -> None:
    for cart in pair.carts.values():
        cart.process.stop()
    pair.master.process.stop()


async def _sale(till: Till, codes: list[str]) -> list[tuple[str, int, str]]:
    """A whole sale of `codes` paid in cash: each step's (name, status, error code)."""
    steps = []
    client = till.client
    cart_id = data(await client.post("/carts"), 201)["cartId"]
    path = f"/carts/{cart_id}"

    async def step(name: str, method: str, url: str, body: Any = None) -> dict[str, Any]:
        response = await client.request(method, url, json=body)
        code = "" if response.status_code < 400 else response.json()["error"]["code"]
        steps.append((name, response.status_code, code))
        return dict(response.json().get("data") or {})

    for code in codes:
        await step(code, "POST", f"{path}/lineItems", [{"itemCode": code}])
    total = (await step("subtotal", "POST", f"{path}/subtotal"))["totals"]["totalAmount"]
    await step("cash", "POST", f"{path}/payments", {"paymentCode": "CASH", "amount": total})
    await step("bill", "POST", f"{path}/bill")
    return steps


async def test_a_store_sells_through_an_outage_and_catches_up_when_master_data_is_back(
    pair: Pair, stack: Stack, terminal_numbers: TerminalNumbers, tmp_path: Path
) -> None:
    catalog = await small_catalog(pair.master.url, stack.tokens.admin)
    tenant = catalog.tenant_id
    tills = {
        transport: await Till.open(
            cart.url, stack.tokens.cart_admin, tenant, "S001", terminal_numbers.take()
        )
        for transport, cart in pair.carts.items()
    }
    sold = ["ITEM0001", "ITEM0004"]
    replica = start_master_data(
        pair.mongodb_uri, pair.tokens, log_dir=tmp_path, name="master-data-other-replica"
    )
    try:
        for till in tills.values():
            for code in sold:
                await served_from_the_cache(till, code)
            assert all(status == 200 for _, status, _ in await _sale(till, sold))  # warms CASH

        pair.master.process.stop()
        went_down = time.monotonic()
        for transport, till in tills.items():
            cart_url = pair.carts[transport].url
            steps = await _sale(till, sold)
            assert steps == [
                ("ITEM0001", 200, ""), ("ITEM0004", 200, ""), ("subtotal", 200, ""),
                ("cash", 200, ""), ("bill", 200, ""),
            ], (transport, steps)  # fmt: skip
            unseen = await till.scan("ITEM0009")
            assert (unseen.status, unseen.code) == (503, "MASTER_DATA_UNAVAILABLE"), transport
            async with httpx.AsyncClient(base_url=cart_url, timeout=10) as client:
                assert (await client.get("/ready")).status_code == 200, transport
                health = data(await client.get("/health"))
            assert health["masterData"] == "unreachable"
            assert health["catalogFeed"]["down"] == 1

        # Meanwhile the catalog changes, through a replica these carts do not know.
        headers = {"Authorization": f"Bearer {pair.tokens.admin}"}
        async with httpx.AsyncClient(base_url=replica.url, headers=headers, timeout=10) as admin:
            changed = await admin.patch(
                f"/api/v1/tenants/{tenant}/items/ITEM0001", json={"unitPrice": "2.34"}
            )
            assert changed.status_code == 200, changed.text
        replica.process.stop()
        for till in tills.values():
            scan = await till.scan("ITEM0001")  # the cache still answers, as it knew it
            assert (scan.status, scan.asked_master_data) == (200, False)
            assert scan.price != "2.34"

        await asyncio.sleep(max(0.0, went_down + OFFLINE_SECONDS + 0.5 - time.monotonic()))
        for transport, till in tills.items():
            scan = await till.scan("ITEM0001")  # past the bound: asks master-data, which is away
            assert (scan.status, scan.code) == (503, "MASTER_DATA_UNAVAILABLE"), transport

        pair.restart_master_data()
        for transport, till in tills.items():
            # The feed brought it (reconnecting takes up to 2 s, then the catch-up).
            scan = await served_from_the_cache(till, "ITEM0001", within=30)
            assert scan.price == "2.34", transport
    finally:
        replica.process.stop()
        for till in tills.values():
            await till.close()


async def test_a_token_whose_history_is_gone_makes_cart_start_over(
    tokens: Tokens, terminal_numbers: TerminalNumbers, tmp_path: Path
) -> None:
    database, uri = start_secantus(
        ":memory:", log_dir=tmp_path, extra_args=["--oplog-max-entries", "50"]
    )
    pair = await _start_pair(uri, tokens, tmp_path)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        catalog = await small_catalog(pair.master.url, tokens.admin)
        tenant = catalog.tenant_id
        tills = {
            transport: await Till.open(cart.url, tokens.cart_admin, tenant, "S001", 1 + n)
            for n, (transport, cart) in enumerate(pair.carts.items())
        }
        for till in tills.values():
            await served_from_the_cache(till, "ITEM0001")
        pair.master.process.stop()
        # While the feeds are down: the price changes, then the database forgets the history
        # the carts would resume from.
        items = client[f"masterdata_{tenant}"]["items"]
        await items.update_one(
            {"item_code": "ITEM0001"}, {"$set": {"unit_price": Decimal128("3.21")}}
        )
        for n in range(100):
            await items.update_one({"item_code": "ITEM0002"}, {"$set": {"description": f"{n}"}})
        await client.admin.command({"secantusAdmin.pruneOplog": 1})
        pair.restart_master_data()
        for transport, till in tills.items():
            async with asyncio.timeout(15):
                scan = await till.scan("ITEM0001")
                while scan.price != "3.21":
                    await asyncio.sleep(0.05)
                    scan = await till.scan("ITEM0001")
            # The price can come from master-data itself while the feed still reconnects:
            # the start-over is awaited on its own.
            async with (
                httpx.AsyncClient(base_url=pair.carts[transport].url) as cart,
                asyncio.timeout(15),
            ):
                feed = data(await cart.get("/health"))["catalogFeed"]
                while feed["startOvers"] == 0:
                    await asyncio.sleep(0.05)
                    feed = data(await cart.get("/health"))["catalogFeed"]
            assert feed["startOvers"] == 1, (transport, feed)
        for till in tills.values():
            await till.close()
    finally:
        await client.close()
        _stop(pair)
        database.stop()
