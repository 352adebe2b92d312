"""Restarts and outages under load, on both transports: a rolling restart of master-data
costs no cart call; a lone master-data that stops lets its calls in flight finish and then
answers 503 only; cart's own database going away is a prompt 503, not a hang."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from pos_commons.transport import Transport
from pos_devstack.processes import free_port
from pos_devstack.seed import DemoCatalog, demo_catalog, load_demo_catalog
from pos_devstack.stack import start_cart, start_master_data, start_secantus
from pos_loadtest.drills.restart import run_drill
from tests.support import Stack, TerminalNumbers, data, error_code, new_terminal

pytestmark = pytest.mark.drill


@pytest.mark.parametrize("transport", Transport)
async def test_rolling_restart_of_one_of_two_replicas_fails_no_call(
    stack: Stack, demo: DemoCatalog, tmp_path: Path, transport: Transport
) -> None:
    result = await run_drill(
        stack.mongodb_uri,
        stack.tokens,
        demo,
        transport=transport,
        restarts=2,
        terminals=4,
        drain_seconds=1.0,
        pause_seconds=1.0,
        work=tmp_path,
    )
    assert result.sales > 20, result.summary()
    assert result.failed == 0, result.summary()


@pytest.mark.parametrize("transport", Transport)
async def test_a_lone_master_data_draining_fails_no_call(
    stack: Stack, demo: DemoCatalog, tmp_path: Path, transport: Transport
) -> None:
    """One replica (what scripts/start.sh and a small store run) and every lookup reaching
    it (no item cache): while it drains, nothing fails on either transport, although its gRPC
    health says NOT_SERVING from the SIGTERM on; once it has stopped, 503
    MASTER_DATA_UNAVAILABLE only, until it is back."""
    result = await run_drill(
        stack.mongodb_uri,
        stack.tokens,
        demo,
        transport=transport,
        restarts=1,
        terminals=3,
        drain_seconds=1.0,
        pause_seconds=0.5,
        work=tmp_path,
        replicas=1,
        cart_env={"USE_ITEM_CACHE": "false"},
    )
    assert result.calls_while_draining > 10, result.summary()
    assert result.failed_while_draining == 0, result.summary()
    # Scans and payments refused while it is gone, and what follows from them in a sale
    # (a subtotal of a cart without lines, a bill with a balance due).
    after = (
        ": 503 MASTER_DATA_UNAVAILABLE",
        ": 409 SUBTOTAL_NOT_ALLOWED_IN_IDLE",
        ": 409 BALANCE_DUE",
    )
    assert all(what.endswith(after) for what in result.failures), result.summary()


@pytest.mark.parametrize("transport", Transport)
async def test_a_lone_master_data_stopping_finishes_its_calls_then_answers_503(
    stack: Stack, terminal_numbers: TerminalNumbers, tmp_path: Path, transport: Transport
) -> None:
    """Calls in flight when SIGTERM arrives succeed (they are held inside master-data by a
    frozen database); later calls get 200 or 503 MASTER_DATA_UNAVAILABLE, nothing else; once
    master-data is back, cart answers again by itself."""
    db_port = free_port()
    database, uri = start_secantus(tmp_path / "db", port=db_port, log_dir=tmp_path)
    drained = {"SHUTDOWN_DRAIN_SECONDS": "0.5", "ITEM_CACHE_TTL_SECONDS": "0"}
    master = start_master_data(uri, stack.tokens, log_dir=tmp_path, extra_env=drained)
    cart = start_cart(
        stack.mongodb_uri,
        stack.tokens,
        master,
        transport=transport,
        log_dir=tmp_path,
        extra_env={"HTTP_TIMEOUT": "5", "GRPC_TIMEOUT": "5"},
    )
    restarted = None
    try:
        catalog = await load_demo_catalog(master.url, stack.tokens.admin, demo_catalog(60))
        async with await new_terminal(
            cart.url, stack.tokens.cart_admin, "demo", "S001", terminal_numbers.take(),
            request_timeout=30,
        ) as client:  # fmt: skip
            codes = iter(catalog.sellable_codes)

            async def add() -> httpx.Response:
                # A cart each: calls on one cart wait for each other (its lock) in cart.
                cart_id = data(await client.post("/carts"), 201)["cartId"]
                item = [{"itemCode": next(codes)}]
                return await client.post(f"/carts/{cart_id}/lineItems", json=item)

            database.pause()  # holds the next lookups inside master-data
            in_flight = [asyncio.create_task(add()) for _ in range(4)]
            await asyncio.sleep(0.5)
            assert not any(task.done() for task in in_flight)
            os.kill(master.process.pid, signal.SIGTERM)
            later: list[asyncio.Task[httpx.Response]] = []
            deadline = time.monotonic() + 4
            resumed = False
            while time.monotonic() < deadline:
                later.append(asyncio.create_task(add()))
                await asyncio.sleep(0.1)
                if not resumed and time.monotonic() > deadline - 3.2:
                    database.resume()
                    resumed = True
            for response in await asyncio.gather(*in_flight):
                data(response)
            outcomes: Counter[str] = Counter()
            for response in await asyncio.gather(*later):
                if response.status_code == 200:
                    outcomes["200"] += 1
                else:
                    outcomes[error_code(response, 503)] += 1
            assert set(outcomes) <= {"200", "MASTER_DATA_UNAVAILABLE"}, outcomes
            assert outcomes["MASTER_DATA_UNAVAILABLE"] > 0, outcomes
            assert not master.process.running()

            restarted = start_master_data(
                uri,
                stack.tokens,
                http_port=master.http_port,
                grpc_port=master.grpc_port,
                log_dir=tmp_path,
                name="master-data-again",
            )
            recovered = None
            for _ in range(100):
                response = await add()
                if response.status_code == 200:
                    recovered = response
                    break
                assert error_code(response, 503) == "MASTER_DATA_UNAVAILABLE"
                await asyncio.sleep(0.1)
            assert recovered is not None, "cart did not recover by itself"
    finally:
        database.resume()
        cart.process.stop()
        master.process.stop()
        if restarted is not None:
            restarted.process.stop()
        database.stop()


@pytest.mark.parametrize("transport", Transport)
async def test_carts_own_database_down_is_a_prompt_503(
    stack: Stack,
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
    tmp_path: Path,
    transport: Transport,
) -> None:
    """Within the operation deadline at worst (MONGODB_OPERATION_TIMEOUT_SECONDS, which also
    bounds the driver's server selection), at once once the driver has noticed; and cart carries
    on by itself when the database is back."""
    db_port = free_port()
    database, uri = start_secantus(tmp_path / "db", port=db_port, log_dir=tmp_path)
    operation_timeout = 2.0
    cart = start_cart(
        uri,
        stack.tokens,
        stack.master_data,
        transport=transport,
        log_dir=tmp_path,
        extra_env={"MONGODB_OPERATION_TIMEOUT_SECONDS": str(operation_timeout)},
    )
    try:
        async with await new_terminal(
            cart.url, stack.tokens.cart_admin, demo.tenant_id, "S001", terminal_numbers.take(),
            request_timeout=30,
        ) as client:  # fmt: skip
            cart_id = data(await client.post("/carts"), 201)["cartId"]
            path = f"/carts/{cart_id}/lineItems"
            data(await client.post(path, json=[{"itemCode": "ITEM0001"}]))
            database.stop()
            timings = []
            for _ in range(5):
                started = time.monotonic()
                response = await client.post(path, json=[{"itemCode": "ITEM0002"}])
                timings.append(time.monotonic() - started)
                assert error_code(response, 503) == "DATABASE_UNAVAILABLE"
                assert "mongodb://" not in response.text
                await asyncio.sleep(0.3)
            assert max(timings) < operation_timeout + 1.0, timings
            assert timings[-1] < 0.5, f"still waiting on the database: {timings}"
            ready = await client.get(f"{cart.url}/ready")
            assert error_code(ready, 503) == "NOT_READY"

            database, _ = start_secantus(tmp_path / "db", port=db_port, log_dir=tmp_path)
            for _ in range(100):
                response = await client.post(path, json=[{"itemCode": "ITEM0002"}])
                if response.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            lines = data(response)["lines"]
            assert [line["itemCode"] for line in lines] == ["ITEM0001", "ITEM0002"]
    finally:
        cart.process.stop()
        database.stop()
