"""Shared fixtures: real processes on free loopback ports, started once per test session.

SecantusDB speaks the MongoDB protocol to the real driver; master-data runs its real HTTP and
gRPC servers; nothing is mocked. Tests that break things (stop the database, stop
master-data) start their own processes instead of touching these.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from grpc import aio

from pos_commons.transport import Transport
from pos_devstack.seed import DemoCatalog, load_demo_catalog
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    Tokens,
    start_cart,
    start_master_data,
    start_secantus,
)
from tests.bytecode import keep_bytecode
from tests.support import Stack, TerminalNumbers, new_terminal


def pytest_configure(config: pytest.Config) -> None:
    keep_bytecode()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens.generate()


@pytest.fixture(scope="session")
def mongodb_uri(log_dir: Path) -> Iterator[str]:
    process, uri = start_secantus(":memory:", log_dir=log_dir)
    yield uri
    process.stop()


@pytest.fixture(scope="session")
def master_data(mongodb_uri: str, tokens: Tokens, log_dir: Path) -> Iterator[MasterDataProcess]:
    running = start_master_data(mongodb_uri, tokens, log_dir=log_dir)
    yield running
    running.process.stop()


@pytest.fixture(scope="session")
async def demo(master_data: MasterDataProcess, tokens: Tokens) -> DemoCatalog:
    return await load_demo_catalog(master_data.url, tokens.admin)


@pytest.fixture(scope="session")
def stack(mongodb_uri: str, tokens: Tokens, master_data: MasterDataProcess, log_dir: Path) -> Stack:
    return Stack(mongodb_uri=mongodb_uri, tokens=tokens, master_data=master_data, log_dir=log_dir)


@pytest.fixture(scope="session")
async def admin(master_data: MasterDataProcess, tokens: Tokens) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {tokens.admin}"}
    async with httpx.AsyncClient(base_url=master_data.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
async def reader(
    master_data: MasterDataProcess, tokens: Tokens
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {tokens.service}"}
    async with httpx.AsyncClient(base_url=master_data.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
async def anonymous(master_data: MasterDataProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=master_data.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
async def grpc_channel(master_data: MasterDataProcess) -> AsyncIterator[aio.Channel]:
    channel = aio.insecure_channel(master_data.grpc_target)
    yield channel
    await channel.close()


@pytest.fixture
async def tenant(admin: httpx.AsyncClient) -> str:
    """A fresh, empty tenant for a test that writes."""
    tenant_id = f"t{uuid.uuid4().hex[:12]}"
    response = await admin.post("/api/v1/tenants", json={"tenantId": tenant_id, "name": "Test"})
    assert response.status_code == 201, response.text
    return tenant_id


def _cart(stack: Stack, transport: Transport) -> CartProcess:
    return start_cart(
        stack.mongodb_uri, stack.tokens, stack.master_data, transport=transport,
        log_dir=stack.log_dir, name=f"cart-{transport}",
    )  # fmt: skip


@pytest.fixture(scope="session")
def carts(stack: Stack) -> Iterator[dict[Transport, CartProcess]]:
    """cart once per transport, all against the same master-data and database."""
    running = {transport: _cart(stack, transport) for transport in Transport}
    yield running
    for cart in running.values():
        cart.process.stop()


@pytest.fixture(scope="session")
def cart_http(carts: dict[Transport, CartProcess]) -> CartProcess:
    return carts[Transport.HTTP]


@pytest.fixture(scope="session")
def cart_grpc(carts: dict[Transport, CartProcess]) -> CartProcess:
    return carts[Transport.GRPC]


@pytest.fixture(scope="session")
def terminal_numbers() -> TerminalNumbers:
    return TerminalNumbers()


@pytest.fixture(params=Transport)
async def terminal(
    request: pytest.FixtureRequest,
    stack: Stack,
    carts: dict[Transport, CartProcess],
    demo: DemoCatalog,
    terminal_numbers: TerminalNumbers,
) -> AsyncIterator[httpx.AsyncClient]:
    """A new terminal of the demo catalog's store S001 at the shared cart, once per transport
    (`tests.support.terminal_client`: paths from /carts on)."""
    cart = carts[request.param]
    async with await new_terminal(
        cart.url, stack.tokens.cart_admin, demo.tenant_id, "S001", terminal_numbers.take()
    ) as client:
        yield client
