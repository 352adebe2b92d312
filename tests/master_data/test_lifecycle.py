"""master-data's lifecycle with its own processes: database outages and graceful shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2

from cart.masterdata.grpc_adapter import health_status
from pos_commons.grpc_stubs.pos.masterdata.v1 import item_service_pb2, item_service_pb2_grpc
from pos_commons.grpc_trailers import ERROR_CODE_KEY
from pos_devstack.processes import free_port
from pos_devstack.seed import demo_catalog, load_demo_catalog
from pos_devstack.stack import Tokens, start_master_data, start_secantus
from tests.support import data, error_code

pytestmark = pytest.mark.drill

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {within}s")


async def test_health_and_answers_follow_the_database(tmp_path: Path, tokens: Tokens) -> None:
    """While MongoDB is gone: the services' health is NOT_SERVING (the server as a whole
    still takes calls), uncached lookups answer 503 DATABASE_UNAVAILABLE at once on both
    transports, cached ones are still answered; all of it recovers when MongoDB is back."""
    db_port = free_port()
    database, uri = start_secantus(tmp_path / "db", port=db_port, log_dir=tmp_path)
    master = start_master_data(uri, tokens, log_dir=tmp_path)
    channel = aio.insecure_channel(master.grpc_target)
    items = item_service_pb2_grpc.ItemServiceStub(channel)
    metadata = (("authorization", f"Bearer {tokens.service}"),)
    item_service = "pos.masterdata.v1.ItemService"
    headers = {"Authorization": f"Bearer {tokens.service}"}
    try:
        await load_demo_catalog(master.url, tokens.admin)

        async def status(service: str = item_service) -> int:
            return await health_status(channel, service, deadline_seconds=5)

        async with httpx.AsyncClient(base_url=master.url, headers=headers, timeout=10) as client:
            cached = "/api/v1/tenants/demo/stores/S002/itemDetails/ITEM0041"
            data(await client.get(cached))
            assert await status() == SERVING
            database.stop()

            async def not_serving() -> bool:
                return await status() == NOT_SERVING

            await _eventually(not_serving)
            assert await status("") == SERVING, "the server itself still takes calls"
            assert error_code(await client.get("/ready"), 503) == "DATABASE_UNAVAILABLE"
            started = time.monotonic()
            uncached = await client.get("/api/v1/tenants/demo/stores/S002/itemDetails/ITEM0042")
            assert error_code(uncached, 503) == "DATABASE_UNAVAILABLE"
            assert time.monotonic() - started < 0.5, "known down: answered at once"
            assert data(await client.get(cached))["itemCode"] == "ITEM0041"
        request = item_service_pb2.GetItemDetailRequest(
            tenant_id="demo", store_code="S002", item_code="ITEM0043"
        )
        started = time.monotonic()
        with pytest.raises(aio.AioRpcError) as unavailable:
            await items.GetItemDetail(request, metadata=metadata, timeout=10)
        assert time.monotonic() - started < 0.5
        assert unavailable.value.code() == grpc.StatusCode.UNAVAILABLE
        trailing = dict(unavailable.value.trailing_metadata() or ())
        assert trailing[ERROR_CODE_KEY] == "DATABASE_UNAVAILABLE"

        database, _ = start_secantus(tmp_path / "db", port=db_port, log_dir=tmp_path)

        async def serving() -> bool:
            return await status() == SERVING

        await _eventually(serving)
        response = await items.GetItemDetail(request, metadata=metadata, timeout=10)
        assert response.item.item_code == "ITEM0043"
    finally:
        await channel.close()
        master.process.stop()
        database.stop()


async def test_graceful_shutdown_lets_the_call_in_flight_finish(
    tmp_path: Path, tokens: Tokens
) -> None:
    database, uri = start_secantus(tmp_path / "db", log_dir=tmp_path)
    master = start_master_data(
        uri, tokens, log_dir=tmp_path, extra_env={"GRPC_SHUTDOWN_GRACE_SECONDS": "10"}
    )
    channel = aio.insecure_channel(master.grpc_target)
    items = item_service_pb2_grpc.ItemServiceStub(channel)
    metadata = (("authorization", f"Bearer {tokens.service}"),)
    try:
        await load_demo_catalog(master.url, tokens.admin)
        request = item_service_pb2.GetItemDetailRequest(
            tenant_id="demo", store_code="S003", item_code="ITEM0099"
        )
        # A frozen database holds the (uncached) call inside master-data.
        database.pause()

        async def call() -> item_service_pb2.GetItemDetailResponse:
            return await items.GetItemDetail(request, metadata=metadata, timeout=30)

        in_flight = asyncio.create_task(call())
        await asyncio.sleep(0.5)
        assert not in_flight.done()
        stopped_at = time.monotonic()
        stopper = asyncio.create_task(asyncio.to_thread(master.process.stop, 30.0))
        await asyncio.sleep(1.0)
        # Shutdown has begun: the server takes no new calls...
        late = item_service_pb2.GetItemDetailRequest(
            tenant_id="demo", store_code="S003", item_code="ITEM0098"
        )
        with pytest.raises(aio.AioRpcError) as refused:
            await items.GetItemDetail(late, metadata=metadata, timeout=3)
        assert refused.value.code() in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
        )
        # ...but the one in flight completes once the database answers again.
        database.resume()
        response = await in_flight
        assert response.item.item_code == "ITEM0099"
        exit_code = await stopper
        # uvicorn re-raises the SIGTERM it handled once shutdown is complete.
        assert exit_code in (0, -15)
        log = master.process.log_tail(200)
        assert "gRPC server stopped" in log
        assert "Application shutdown complete" in log
        assert time.monotonic() - stopped_at < 15
    finally:
        database.resume()
        await channel.close()
        master.process.stop()
        database.stop()


async def test_sigterm_drains_before_it_stops(tmp_path: Path, tokens: Tokens) -> None:
    """From SIGTERM on: not ready and NOT_SERVING at once, yet every call is still served
    (HTTP answers say Connection: close) until the drain is over; then the process exits."""
    database, uri = start_secantus(":memory:", log_dir=tmp_path)
    drain = 3.0
    master = start_master_data(
        uri, tokens, log_dir=tmp_path, extra_env={"SHUTDOWN_DRAIN_SECONDS": str(drain)}
    )
    channel = aio.insecure_channel(master.grpc_target)
    items = item_service_pb2_grpc.ItemServiceStub(channel)
    metadata = (("authorization", f"Bearer {tokens.service}"),)
    request = item_service_pb2.GetItemDetailRequest(
        tenant_id="demo", store_code="S001", item_code="ITEM0001"
    )
    headers = {"Authorization": f"Bearer {tokens.service}"}
    try:
        await load_demo_catalog(master.url, tokens.admin, demo_catalog(10))
        async with httpx.AsyncClient(base_url=master.url, headers=headers, timeout=5) as client:
            detail = "/api/v1/tenants/demo/stores/S001/itemDetails/ITEM0001"
            assert "connection" not in data_response(await client.get(detail)).headers
            signalled = time.monotonic()
            os.kill(master.process.pid, signal.SIGTERM)
            await asyncio.sleep(0.3)
            assert error_code(await client.get("/ready"), 503) == "SHUTTING_DOWN"
            assert await health_status(channel, "", deadline_seconds=2) == NOT_SERVING
            service = "pos.masterdata.v1.ItemService"
            assert await health_status(channel, service, deadline_seconds=2) == NOT_SERVING
            served = 0
            while time.monotonic() - signalled < drain - 0.7:
                answer = data_response(await client.get(detail))
                assert answer.headers["connection"] == "close"
                reply = await items.GetItemDetail(request, metadata=metadata, timeout=2)
                assert reply.item.item_code == "ITEM0001"
                served += 1
                await asyncio.sleep(0.1)
            assert served >= 10
            assert master.process.running(), "stopped before the drain was over"
        exit_code = await asyncio.to_thread(master.process.wait_exit, 30.0)
        assert exit_code in (0, -15)
        assert time.monotonic() - signalled >= drain
        assert "SIGTERM: draining" in master.process.log_tail(100)
    finally:
        await channel.close()
        master.process.stop()
        database.stop()


async def test_calls_to_a_stopping_server_are_served_or_unavailable_never_cancelled(
    tmp_path: Path, tokens: Tokens
) -> None:
    """Callers sending nonstop over several connections from SIGTERM to the exit: every call
    that ends before the drain is over is served; later ones are served or UNAVAILABLE (refused
    once the server stops taking calls, or their connection closed at the exit), never
    CANCELLED, which grpc's own stop answers to every call that reaches it once it has begun
    (grpc/grpc#41785): a client could not tell that from a cancellation of its own."""
    database, uri = start_secantus(":memory:", log_dir=tmp_path)
    drain = 0.5
    master = start_master_data(
        uri, tokens, log_dir=tmp_path, extra_env={"SHUTDOWN_DRAIN_SECONDS": str(drain)}
    )
    channels = [aio.insecure_channel(master.grpc_target) for _ in range(16)]
    metadata = (("authorization", f"Bearer {tokens.service}"),)
    request = item_service_pb2.GetItemDetailRequest(
        tenant_id="demo", store_code="S001", item_code="ITEM0001"
    )
    ended: list[tuple[float, grpc.StatusCode]] = []
    exited = asyncio.Event()

    async def caller(items: item_service_pb2_grpc.ItemServiceAsyncStub) -> None:
        deadline = time.monotonic() + 20
        while not exited.is_set() and time.monotonic() < deadline and len(ended) < 100_000:
            try:
                await items.GetItemDetail(request, metadata=metadata, timeout=5)
                code = grpc.StatusCode.OK
            except aio.AioRpcError as exc:
                code = exc.code()
            ended.append((time.monotonic(), code))
            if code is not grpc.StatusCode.OK:
                await asyncio.sleep(0.005)

    try:
        await load_demo_catalog(master.url, tokens.admin, demo_catalog(10))
        stubs = [item_service_pb2_grpc.ItemServiceStub(channel) for channel in channels]
        callers = [asyncio.create_task(caller(stubs[n % len(stubs)])) for n in range(160)]
        await asyncio.sleep(0.3)
        signalled = time.monotonic()
        os.kill(master.process.pid, signal.SIGTERM)
        await asyncio.to_thread(master.process.wait_exit, 30.0)
        await asyncio.sleep(0.2)
        exited.set()
        await asyncio.gather(*callers)
        during_drain = Counter(c for t, c in ended if signalled <= t < signalled + drain)
        later = Counter(c for t, c in ended if t >= signalled + drain)
        assert set(during_drain) == {grpc.StatusCode.OK}, during_drain
        assert during_drain[grpc.StatusCode.OK] > 50, during_drain
        assert set(later) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, later
        assert later[grpc.StatusCode.UNAVAILABLE] > 0, later
    finally:
        for channel in channels:
            await channel.close()
        master.process.stop()
        database.stop()


def data_response(response: httpx.Response) -> httpx.Response:
    data(response)
    return response
