"""Every failure kind of master-data, produced for real and sent through cart on both
transports: the terminal gets the same status, code and message whatever USE_GRPC says.

master-data here is this module's own, on its own database (so both can be broken without
touching the shared stack); cart keeps its carts in the shared database.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient

from pos_commons.transport import Transport
from pos_devstack.processes import ManagedProcess, free_port, wait_for_status
from pos_devstack.seed import DemoCatalog, demo_catalog, load_demo_catalog
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    Tokens,
    start_cart,
    start_master_data,
    start_secantus,
)
from tests.support import Stack, TerminalNumbers, new_terminal

pytestmark = pytest.mark.drill

TIMEOUT = 1.0
Outcome = tuple[int, str, str]
REFUSED_TOKEN = "master-data refused cart's service token (SERVICE_TOKEN)."


@dataclass
class BreakableStack:
    """A stack of its own, its database and master-data for the test to break."""

    database: ManagedProcess
    database_port: int
    database_uri: str
    master: MasterDataProcess
    carts: dict[Transport, CartProcess]
    log_dir: Path


@pytest.fixture
def breakable(stack: Stack, tmp_path: Path) -> Iterator[BreakableStack]:
    port = free_port()
    database, uri = start_secantus(tmp_path / "md-db", port=port, log_dir=tmp_path)
    master = start_master_data(uri, stack.tokens, log_dir=tmp_path)
    # Every lookup goes to master-data (no item cache): this is the transports' own failure
    # table; what the cache answers through an outage is tests/cart/test_master_data_outage.py.
    timeouts = {
        "HTTP_TIMEOUT": str(TIMEOUT), "GRPC_TIMEOUT": str(TIMEOUT), "USE_ITEM_CACHE": "false"
    }  # fmt: skip
    carts = {
        transport: start_cart(
            stack.mongodb_uri,
            stack.tokens,
            master,
            transport=transport,
            log_dir=tmp_path,
            extra_env=timeouts,
            name=f"cart-{transport}",
        )
        for transport in Transport
    }
    running = BreakableStack(database, port, uri, master, carts, tmp_path)
    yield running
    for cart in carts.values():
        cart.process.stop()
    running.master.process.resume() if running.master.process.running() else None
    running.master.process.stop()
    running.database.stop()


@dataclass
class Terminal:
    client: httpx.AsyncClient
    cart_id: str


async def _terminal(
    cart: CartProcess, tokens: Tokens, tenant: str, store: str, number: int
) -> Terminal:
    client = await new_terminal(
        cart.url, tokens.cart_admin, tenant, store, number, request_timeout=30
    )
    created = await client.post("/carts")
    assert created.status_code == 201, created.text
    return Terminal(client, created.json()["data"]["cartId"])


async def _add(terminal: Terminal, code: str) -> tuple[Outcome | int, float]:
    started = time.monotonic()
    response = await terminal.client.post(
        f"/carts/{terminal.cart_id}/lineItems", json=[{"itemCode": code}]
    )
    elapsed = time.monotonic() - started
    if response.status_code < 400:
        return response.status_code, elapsed
    error = response.json()["error"]
    return (response.status_code, error["code"], error["message"]), elapsed


async def _both(terminals: dict[Transport, Terminal], code: str) -> dict[str, tuple[object, float]]:
    return {transport: await _add(terminals[transport], code) for transport in Transport}


def _same(answers: dict[str, tuple[object, float]], expected: object, within: float) -> None:
    outcomes = {transport: outcome for transport, (outcome, _) in answers.items()}
    assert outcomes == dict.fromkeys(Transport, expected)
    for transport, (_, elapsed) in answers.items():
        assert elapsed < within, f"{transport} took {elapsed:.2f}s"


async def _insert_broken_item(uri: str) -> None:
    """An item whose tax rule does not exist: master-data cannot build its view (its own 500,
    INTERNAL over gRPC). Written behind master-data's back, as a bad migration would."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
    now = datetime.now(UTC)
    try:
        await client["masterdata_demo"]["items"].insert_one(
            {
                "item_code": "BROKEN1",
                "description": "Broken",
                "short_description": "b",
                "unit_price": "1.00",
                "category_code": "FRUIT",
                "tax_code": "GONE",
                "is_discount_restricted": False,
                "is_deleted": False,
                "created_at": now,
                "updated_at": now,
            }
        )
    finally:
        await client.close()


async def test_every_failure_kind_reads_the_same_on_both_transports(
    breakable: BreakableStack, stack: Stack, terminal_numbers: TerminalNumbers
) -> None:
    tokens = stack.tokens
    await load_demo_catalog(breakable.master.url, tokens.admin, demo_catalog(30))
    await _insert_broken_item(breakable.database_uri)

    async def terminals(tenant: str, store: str) -> dict[Transport, Terminal]:
        return {
            transport: await _terminal(
                breakable.carts[transport], tokens, tenant, store, terminal_numbers.take()
            )
            for transport in Transport
        }

    sale = await terminals("demo", "S001")
    ghost_tenant = await terminals("ghost", "S001")
    ghost_store = await terminals("demo", "S999")
    opened = [*sale.values(), *ghost_tenant.values(), *ghost_store.values()]
    try:
        _same(await _both(sale, "ITEM0001"), 200, within=TIMEOUT)
        _same(
            await _both(ghost_tenant, "ITEM0001"),
            (404, "TENANT_NOT_FOUND", "master-data: No tenant 'ghost'."),
            within=TIMEOUT,
        )
        _same(
            await _both(ghost_store, "ITEM0001"),
            (404, "STORE_NOT_FOUND", "master-data: No store 'S999'."),
            within=TIMEOUT,
        )
        _same(
            await _both(sale, "NOSUCH1"),
            (404, "ITEM_NOT_FOUND", "No item NOSUCH1."),
            within=TIMEOUT,
        )
        _same(
            await _both(sale, "BROKEN1"),
            (502, "MASTER_DATA_ERROR", "master-data answered something cart cannot use."),
            within=TIMEOUT,
        )

        breakable.master.process.pause()
        try:
            _same(
                await _both(sale, "ITEM0002"),
                (504, "MASTER_DATA_TIMEOUT", "master-data did not answer in time."),
                within=TIMEOUT + 1.0,
            )
        finally:
            breakable.master.process.resume()

        breakable.database.stop()
        await wait_for_status(f"{breakable.master.url}/ready", 503, within=20)
        _same(
            await _both(sale, "ITEM0003"),
            (
                503,
                "MASTER_DATA_DATABASE_UNAVAILABLE",
                "master-data cannot reach its database; try again shortly.",
            ),
            within=TIMEOUT,
        )
        # What master-data has cached it still answers without its database.
        _same(await _both(sale, "ITEM0001"), 200, within=TIMEOUT)
        breakable.database, _ = start_secantus(
            breakable.log_dir / "md-db", port=breakable.database_port, log_dir=breakable.log_dir
        )
        await wait_for_status(f"{breakable.master.url}/ready", 200, within=20)
        _same(await _both(sale, "ITEM0003"), 200, within=TIMEOUT)

        breakable.master.process.stop()
        _same(
            await _both(sale, "ITEM0004"),
            (503, "MASTER_DATA_UNAVAILABLE", "master-data cannot be reached; try again shortly."),
            within=TIMEOUT + 1.0,
        )
    finally:
        for terminal in opened:
            await terminal.client.aclose()


async def test_a_wrong_service_token_reads_the_same_on_both_transports(
    stack: Stack,
    master_data: MasterDataProcess,
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
    tmp_path: Path,
) -> None:
    wrong = dataclasses.replace(stack.tokens, service="not-the-service-token-" + "x" * 20)
    carts = {
        transport: start_cart(
            stack.mongodb_uri,
            wrong,
            master_data,
            transport=transport,
            log_dir=tmp_path,
            name=f"cart-wrong-token-{transport}",
        )
        for transport in Transport
    }
    opened: list[Terminal] = []
    try:
        terminals = {
            transport: await _terminal(
                carts[transport], stack.tokens, "demo", "S001", terminal_numbers.take()
            )
            for transport in Transport
        }
        opened = list(terminals.values())
        _same(
            await _both(terminals, "ITEM0001"),
            (502, "MASTER_DATA_AUTH_FAILED", REFUSED_TOKEN),
            within=2.0,
        )
        for cart in carts.values():
            log = cart.process.log_tail(200)
            assert wrong.service not in log, "a token must never reach a log"
    finally:
        for terminal in opened:
            await terminal.client.aclose()
        for cart in carts.values():
            cart.process.stop()
