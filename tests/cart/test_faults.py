"""master-data failing under cart, on both transports: down is 503, slow is 504, never 404,
and cart recovers by itself once master-data is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pos_commons.transport import Transport
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import MasterDataProcess, start_cart, start_master_data
from tests.support import Stack, TerminalNumbers, data, error_code, new_terminal

pytestmark = pytest.mark.drill

TIMEOUT_SECONDS = 1.0


@pytest.fixture
def own_master_data(stack: Stack, demo: DemoCatalog, tmp_path: Path) -> Iterator[MasterDataProcess]:
    """A master-data of this test's own, on the shared database (so it has the demo catalog)."""
    running = start_master_data(
        stack.mongodb_uri, stack.tokens, log_dir=tmp_path, extra_env={"ACCESS_LOG": "true"}
    )
    yield running
    running.process.resume() if running.process.running() else None
    running.process.stop()


@pytest.mark.parametrize("transport", list(Transport))
async def test_outage_slowness_and_recovery(
    stack: Stack,
    demo: DemoCatalog,
    own_master_data: MasterDataProcess,
    terminal_numbers: TerminalNumbers,
    tmp_path: Path,
    transport: Transport,
) -> None:
    master = own_master_data
    cart = start_cart(
        stack.mongodb_uri, stack.tokens, master, transport=transport, log_dir=tmp_path,
        # Without the item cache: the direct path through an outage (what the cache answers
        # meanwhile is tests/cart/test_master_data_outage.py).
        extra_env={"HTTP_TIMEOUT": str(TIMEOUT_SECONDS), "GRPC_TIMEOUT": str(TIMEOUT_SECONDS),
                   "USE_ITEM_CACHE": "false"},
    )  # fmt: skip
    try:
        async with await new_terminal(
            cart.url, stack.tokens.cart_admin, demo.tenant_id, "S002", terminal_numbers.take(),
            request_timeout=30,
        ) as client:  # fmt: skip
            cart_id = data(await client.post("/carts"), 201)["cartId"]
            add = f"/carts/{cart_id}/lineItems"

            async def add_item(code: str) -> tuple[httpx.Response, float]:
                started = time.monotonic()
                response = await client.post(
                    add, json=[{"itemCode": code}], headers={"X-Request-ID": f"fault-{code}"}
                )
                return response, time.monotonic() - started

            ok, _ = await add_item("ITEM0011")
            data(ok)
            # The request id crossed from the terminal's call into master-data, on either transport.
            assert "fault-ITEM0011" in master.process.log_tail(400)

            master.process.pause()
            slow, elapsed = await add_item("ITEM0012")
            assert error_code(slow, 504) == "MASTER_DATA_TIMEOUT"
            assert elapsed < TIMEOUT_SECONDS + 1.5
            master.process.resume()
            data((await add_item("ITEM0013"))[0])

            master.process.stop()
            down, elapsed = await add_item("ITEM0014")
            assert error_code(down, 503) == "MASTER_DATA_UNAVAILABLE"
            assert elapsed < TIMEOUT_SECONDS + 1.5
            # cart stays ready (it does not need master-data to serve what it has cached);
            # /health says master-data is away.
            data(await client.get(f"{cart.url}/ready"))
            assert data(await client.get(f"{cart.url}/health"))["masterData"] == "unreachable"

            restarted = start_master_data(
                stack.mongodb_uri, stack.tokens, http_port=master.http_port,
                grpc_port=master.grpc_port, log_dir=tmp_path, name="master-data-restarted",
            )  # fmt: skip
            try:
                deadline = time.monotonic() + 20
                while True:
                    response, _ = await add_item("ITEM0015")
                    if response.status_code == 200 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.2)
                lines = data(response)["lines"]
                assert [line["itemCode"] for line in lines] == ["ITEM0011", "ITEM0013", "ITEM0015"]
                assert data(await client.get(f"{cart.url}/health"))["masterData"] == "ok"
            finally:
                restarted.process.stop()
    finally:
        cart.process.stop()
