"""A database connection closed by the far end while it sat idle in the pool (a load balancer,
NAT or firewall timeout; SecantusDB closes connections idle for 300 s) must not fail the write
that next needs the database: MONGODB_MAX_IDLE_SECONDS retires pooled connections first."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

from pos_commons.transport import Transport
from pos_devstack.processes import LOOPBACK
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import MasterDataProcess, start_cart, start_master_data
from tests.support import Stack, TerminalNumbers, data, register_terminal, terminal_client

PROXY_IDLE_SECONDS = 1.5
# The driver's monitors poll this often, so only pooled connections go idle behind the proxy.
HEARTBEAT_MS = 500


class IdleClosingProxy:
    """TCP proxy that closes a connection after `idle_seconds` without traffic either way."""

    def __init__(self, upstream_port: int, idle_seconds: float) -> None:
        self._upstream_port = upstream_port
        self._idle_seconds = idle_seconds
        self.closed_idle = 0
        self.port = 0
        self._stopping = False
        self._connections: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[IdleClosingProxy]:
        server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            try:
                yield self
            finally:
                # Handlers end by themselves (Python 3.11 logs a cancelled one as an error).
                self._stopping = True
                await asyncio.gather(*self._connections)

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream_in, upstream_out = await asyncio.open_connection(LOOPBACK, self._upstream_port)
        last_traffic = loop.time()

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            nonlocal last_traffic
            with contextlib.suppress(ConnectionError):
                while chunk := await source.read(65536):
                    last_traffic = loop.time()
                    sink.write(chunk)
                    await sink.drain()

        pumps = [
            asyncio.create_task(pump(client_in, upstream_out)),
            asyncio.create_task(pump(upstream_in, client_out)),
        ]
        try:
            while not self._stopping and not any(direction.done() for direction in pumps):
                if loop.time() - last_traffic > self._idle_seconds:
                    self.closed_idle += 1
                    break
                await asyncio.sleep(0.05)
        finally:
            for direction in pumps:
                direction.cancel()
            for writer in (client_out, upstream_out):
                writer.close()


@pytest.fixture
async def proxied_uri(stack: Stack) -> AsyncIterator[tuple[str, IdleClosingProxy]]:
    database_port = urlsplit(stack.mongodb_uri).port
    assert database_port is not None
    proxy = IdleClosingProxy(database_port, PROXY_IDLE_SECONDS)
    async with proxy.running():
        uri = f"mongodb://{LOOPBACK}:{proxy.port}/?directConnection=true&retryWrites=false&heartbeatFrequencyMS={HEARTBEAT_MS}"
        yield uri, proxy


async def test_the_proxy_breaks_a_write_on_a_connection_kept_past_its_idle_timeout(
    proxied_uri: tuple[str, IdleClosingProxy],
) -> None:
    """The control: without a max idle time, the driver reuses the closed connection."""
    uri, proxy = proxied_uri
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
    try:
        collection = client["idle_control"]["writes"]
        await collection.insert_one({"n": 1})
        await asyncio.sleep(PROXY_IDLE_SECONDS * 2)
        with pytest.raises(AutoReconnect):
            await collection.insert_one({"n": 2})
        assert proxy.closed_idle >= 1
    finally:
        await client.close()


async def _write_after_idle(url: str, headers: dict[str, str], path: str, body: object) -> int:
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        await asyncio.sleep(PROXY_IDLE_SECONDS * 2)
        return (await client.post(path, json=body)).status_code


async def test_cart_writes_after_its_pooled_connections_went_idle(
    stack: Stack,
    demo: DemoCatalog,
    master_data: MasterDataProcess,
    terminal_numbers: TerminalNumbers,
    proxied_uri: tuple[str, IdleClosingProxy],
    tmp_path: Path,
) -> None:
    uri, _ = proxied_uri
    # In a thread: the proxy serves on this loop while the service starts.
    cart = await asyncio.to_thread(
        start_cart,
        uri,
        stack.tokens,
        master_data,
        transport=Transport.HTTP,
        log_dir=tmp_path,
        extra_env={"MONGODB_MAX_IDLE_SECONDS": str(PROXY_IDLE_SECONDS / 3)},
    )
    try:
        key = await register_terminal(
            cart.url, stack.tokens.cart_admin, demo.tenant_id, "S001", terminal_numbers.take()
        )
        async with terminal_client(cart.url, key, request_timeout=30) as client:
            data(await client.post("/carts"), 201)
        assert await _write_after_idle(cart.url, {"X-API-Key": key}, "/api/v1/carts", None) == 201
    finally:
        await asyncio.to_thread(cart.process.stop)


async def test_master_data_writes_after_its_pooled_connections_went_idle(
    stack: Stack,
    demo: DemoCatalog,
    proxied_uri: tuple[str, IdleClosingProxy],
    tmp_path: Path,
) -> None:
    uri, _ = proxied_uri
    master = await asyncio.to_thread(
        start_master_data,
        uri,
        stack.tokens,
        log_dir=tmp_path,
        extra_env={"MONGODB_MAX_IDLE_SECONDS": str(PROXY_IDLE_SECONDS / 3)},
    )
    try:
        headers = {"Authorization": f"Bearer {stack.tokens.admin}"}
        path = f"/api/v1/tenants/{demo.tenant_id}/categories"
        async with httpx.AsyncClient(base_url=master.url, headers=headers, timeout=30) as client:
            data(await client.post(path, json={"categoryCode": "IDLE1", "name": "Idle 1"}), 201)
        body = {"categoryCode": "IDLE2", "name": "Idle 2"}
        assert await _write_after_idle(master.url, headers, path, body) == 201
    finally:
        await asyncio.to_thread(master.process.stop)
