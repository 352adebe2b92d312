"""Both services against a database they reach through a tap (tests/mongo_tap.py): every
command they send carries the configured concerns, and a database that stalls (ping still
answered, work held) gives prompt 504s, readiness that fails, bounded admission, and
recovery once it moves again."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pos_commons.transport import Transport
from pos_devstack.seed import DemoCatalog, demo_catalog, load_demo_catalog
from pos_devstack.stack import CartProcess, MasterDataProcess, start_cart, start_master_data
from tests.mongo_tap import MongoTap, Sent
from tests.pos_sale import by_name, run_flow
from tests.support import Stack, error_code, register_terminal

pytestmark = pytest.mark.drill

OPERATION_TIMEOUT = 2.0
REQUEST_TIMEOUT = 4.0
TRANSACTION_TIMEOUT = 30.0
"""Far beyond the request's budget: a bill's transaction must end with the request's."""
RECOVERY_SECONDS = 15.0
"""Well inside the database's own transaction lifetime (60 s)."""
# A generous allowance above a deadline: these are deadlines kept, not speed measured.
SLACK = 3.0
MAX_CONCURRENT = 2
QUEUE_SECONDS = 0.3
CART_CONCERNS = {"MONGODB_WRITE_CONCERN": "1", "MONGODB_JOURNAL": "true"}
"""cart's are set apart from the defaults (master-data keeps them): each must be its own."""
CART_BUDGETS = {
    "REQUEST_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT),
    "TRANSACTION_TIMEOUT_SECONDS": str(TRANSACTION_TIMEOUT),
}

WRITES = frozenset({"insert", "update", "delete", "findAndModify", "createIndexes", "create"})
READS = frozenset({"find", "aggregate", "count", "distinct"})
ENDS = frozenset({"commitTransaction", "abortTransaction"})


@dataclass
class Tapped:
    md_tap: MongoTap
    cart_tap: MongoTap
    master_data: MasterDataProcess
    cart: CartProcess
    catalog: DemoCatalog
    api_key: str


def _bounds(operation_timeout: float) -> dict[str, str]:
    return {
        "MONGODB_OPERATION_TIMEOUT_SECONDS": str(operation_timeout),
        "MAX_CONCURRENT_REQUESTS": str(MAX_CONCURRENT),
        "REQUEST_QUEUE_SECONDS": str(QUEUE_SECONDS),
        # Not under test here: master-data's item cache would hide its database.
        "ITEM_CACHE_TTL_SECONDS": "0",
    }


@pytest.fixture(scope="module")
async def tapped(stack: Stack) -> AsyncIterator[Tapped]:
    parts = urlsplit(stack.mongodb_uri)
    assert parts.hostname is not None
    assert parts.port is not None
    md_tap = await MongoTap(parts.hostname, parts.port).start()
    cart_tap = await MongoTap(parts.hostname, parts.port).start()
    # Started from a thread: the taps serve on this event loop while the services start.
    master_data = await asyncio.to_thread(
        start_master_data,
        md_tap.uri,
        stack.tokens,
        log_dir=stack.log_dir,
        name="master-data-tapped",
        extra_env=_bounds(OPERATION_TIMEOUT),
    )
    cart = await asyncio.to_thread(
        start_cart,
        cart_tap.uri,
        stack.tokens,
        master_data,
        transport=Transport.HTTP,
        log_dir=stack.log_dir,
        name="cart-tapped",
        extra_env={**_bounds(OPERATION_TIMEOUT), **CART_CONCERNS, **CART_BUDGETS},
    )
    try:
        catalog = dataclasses.replace(demo_catalog(30), tenant_id=f"t{uuid.uuid4().hex[:12]}")
        await load_demo_catalog(master_data.url, stack.tokens.admin, catalog)
        api_key = await register_terminal(
            cart.url, stack.tokens.cart_admin, catalog.tenant_id, catalog.stores[0], 1
        )
        yield Tapped(md_tap, cart_tap, master_data, cart, catalog, api_key)
    finally:
        # From a thread too: the services' last commands (endSessions) go through the taps.
        await asyncio.to_thread(cart.process.stop)
        await asyncio.to_thread(master_data.process.stop)
        await md_tap.close()
        await cart_tap.close()


@pytest.fixture
def stalled(tapped: Tapped) -> Iterator[Tapped]:
    tapped.md_tap.stall()
    tapped.cart_tap.stall()
    try:
        yield tapped
    finally:
        tapped.md_tap.resume()
        tapped.cart_tap.resume()


def _concern_faults(sent: list[Sent], write: dict[str, Any], read: dict[str, Any]) -> list[str]:
    """Every command that should carry the service's concerns and does not."""
    faults = []
    for command in sent:
        document = command.document
        if command.in_transaction:
            # Inside a transaction the concerns belong to its first command and its end.
            if document.get("startTransaction") and document.get("readConcern") != read:
                faults.append(f"{command.name} starting a transaction: {document}")
            if command.name in ENDS and document.get("writeConcern") != write:
                faults.append(f"{command.name}: {document}")
            continue
        if command.name in WRITES and document.get("writeConcern") != write:
            faults.append(f"{command.name} on {command.database}: {document.get('writeConcern')}")
        if command.name in READS and document.get("readConcern") != read:
            faults.append(f"{command.name} on {command.database}: {document.get('readConcern')}")
    return faults


async def test_every_command_of_both_services_carries_the_configured_concerns(
    tapped: Tapped,
) -> None:
    flow = by_name(await run_flow(tapped.cart, tapped.api_key))
    assert flow["bill"][0] == 200, flow
    assert flow["cancel"][0] == 200, flow

    for tap, write, read in (
        (tapped.md_tap, {"w": "majority", "j": True}, {"level": "majority"}),
        (tapped.cart_tap, {"w": 1, "j": True}, {"level": "majority"}),
    ):
        sent = tap.commands()
        names = {command.name for command in sent}
        # The check cannot pass on nothing: the sale wrote, read and committed.
        assert {"insert", "update", "find"} <= names, names
        assert _concern_faults(sent, write, read) == []
    cart_names = {command.name for command in tapped.cart_tap.commands()}
    assert "commitTransaction" in cart_names


async def test_a_stalled_database_answers_504_at_its_deadline_and_readiness_fails(
    stalled: Tapped, stack: Stack
) -> None:
    cart_api = {"X-API-Key": stalled.api_key}
    admin = {"Authorization": f"Bearer {stack.tokens.admin}"}
    items = f"{stalled.master_data.url}/api/v1/tenants/{stalled.catalog.tenant_id}/items"
    new_item = {**stalled.catalog.items[0], "itemCode": f"X{uuid.uuid4().hex[:8].upper()}"}
    async with httpx.AsyncClient(timeout=30) as client:
        started = time.monotonic()
        create = await client.post(f"{stalled.cart.url}/api/v1/carts", headers=cart_api)
        assert error_code(create, 504) == "DATABASE_TIMEOUT"
        assert error_code(await client.post(items, json=new_item, headers=admin), 504) == (
            "DATABASE_TIMEOUT"
        )
        assert time.monotonic() - started < 2 * OPERATION_TIMEOUT + SLACK

        # Ping is still answered (the tap lets monitoring through): readiness must see more.
        assert error_code(await client.get(f"{stalled.cart.url}/ready"), 503) == "NOT_READY"
        md_ready = await client.get(f"{stalled.master_data.url}/ready")
        assert error_code(md_ready, 503) == "DATABASE_UNAVAILABLE"
        assert (await client.get(f"{stalled.cart.url}/health")).status_code == 200

        stalled.md_tap.resume()
        stalled.cart_tap.resume()
        assert (await client.get(f"{stalled.cart.url}/ready")).status_code == 200
        assert (await client.get(f"{stalled.master_data.url}/ready")).status_code == 200
        create = await client.post(f"{stalled.cart.url}/api/v1/carts", headers=cart_api)
        assert create.status_code == 201, create.text
        assert (await client.post(items, json=new_item, headers=admin)).status_code == 201


async def test_requests_beyond_the_bound_are_refused_at_once_not_queued(stalled: Tapped) -> None:
    """With the database stalled, MAX_CONCURRENT_REQUESTS requests wait out their deadline;
    the rest wait at most REQUEST_QUEUE_SECONDS for a turn, then 503 OVERLOADED."""
    headers = {"X-API-Key": stalled.api_key}
    async with httpx.AsyncClient(base_url=stalled.cart.url, headers=headers, timeout=30) as client:

        async def create() -> tuple[httpx.Response, float]:
            started = time.monotonic()
            response = await client.post("/api/v1/carts")
            return response, time.monotonic() - started

        answers = await asyncio.gather(*(create() for _ in range(3 * MAX_CONCURRENT)))
        health = await client.get("/health")
    codes = sorted(error_code(response, response.status_code) for response, _ in answers)
    assert codes == ["DATABASE_TIMEOUT"] * MAX_CONCURRENT + ["OVERLOADED"] * (2 * MAX_CONCURRENT)
    for response, seconds in answers:
        if response.status_code == 503:
            assert response.headers["retry-after"] == "1"
            assert seconds < QUEUE_SECONDS + SLACK
    assert health.status_code == 200


async def test_a_bill_on_a_stalled_database_ends_with_its_requests_budget(
    tapped: Tapped,
) -> None:
    """The transaction's own deadline (TRANSACTION_TIMEOUT_SECONDS) is cut to what is left of
    the request's: the terminal hears 504 within its budget, not 30 s later."""
    async with httpx.AsyncClient(
        base_url=f"{tapped.cart.url}/api/v1", headers={"X-API-Key": tapped.api_key}, timeout=60
    ) as client:
        created = await client.post("/carts")
        assert created.status_code == 201, created.text
        cart = f"/carts/{created.json()['data']['cartId']}"
        steps = [
            await client.post(f"{cart}/lineItems", json=[{"itemCode": "ITEM0001"}]),
            await client.post(f"{cart}/subtotal"),
            await client.post(f"{cart}/payments", json={"paymentCode": "CASH", "amount": "1000"}),
        ]
        assert [step.status_code for step in steps] == [200, 200, 200], steps[-1].text
        tapped.md_tap.stall()
        tapped.cart_tap.stall()
        try:
            started = time.monotonic()
            bill = await client.post(f"{cart}/bill")
            seconds = time.monotonic() - started
        finally:
            tapped.md_tap.resume()
            tapped.cart_tap.resume()
        assert error_code(bill, 504) == "DATABASE_TIMEOUT"
        assert seconds < REQUEST_TIMEOUT + SLACK, seconds
        # Nothing half done: the bill goes through once the database moves again.
        # Its first commands reached the database late, and nothing ended that transaction:
        # left to the server's transaction lifetime (60 s) it would hold the cart and the
        # terminal's receipt counter for a minute; cart kills its session instead.
        retried_from = time.monotonic()
        while True:
            again = await client.post(f"{cart}/bill")
            if again.status_code == 200 or time.monotonic() - retried_from > RECOVERY_SECONDS:
                break
        assert again.status_code == 200, again.text
        assert again.json()["data"]["state"] == "Completed"
