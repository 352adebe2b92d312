"""A slow master-data, through cart on both transports: each lookup ends within the request's
budget, a wait for a pooled connection is not taken for "unreachable" (nor retried), and a
master-data at its concurrency bound refuses at once, read the same on both transports.

master-data here is this module's own, on its own database (paused to hold calls inside it),
with a bound of one call at a time on each port; cart has no item cache (every lookup asks
master-data), no bound of its own on concurrent requests (so that more lookups than its HTTP
pool holds can be under way), and a request budget well below its transports' timeouts.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from pos_commons.transport import Transport
from pos_devstack.processes import ManagedProcess
from pos_devstack.seed import demo_catalog, load_demo_catalog
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    start_cart,
    start_master_data,
    start_secantus,
)
from tests.support import Stack, TerminalNumbers, data, metric_value, new_terminal

pytestmark = pytest.mark.drill

REQUEST_BUDGET = 2.0
# Well past the budget: what a lookup would take if the budget did not bound it.
TRANSPORT_TIMEOUT = 5.0
# cart's HTTP pool to master-data (HttpClientSettings.max_connections).
HTTP_POOL = 100


@dataclass
class SlowStack:
    """A stack of its own whose master-data answers one request at a time."""

    database: ManagedProcess
    master: MasterDataProcess
    carts: dict[Transport, CartProcess]


@pytest.fixture(scope="module")
async def slow_stack(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SlowStack]:
    work = tmp_path_factory.mktemp("slow-master-data")
    database, uri = start_secantus(work / "db", log_dir=work)
    bound = {
        "ITEM_CACHE_TTL_SECONDS": "0",  # every lookup reads the database
        "GRPC_MAX_CONCURRENT_RPCS": "1",
        "MAX_CONCURRENT_REQUESTS": "1",
        # Room for the catalog's loading (8 requests at a time), well within cart's budget.
        "REQUEST_QUEUE_SECONDS": "0.5",
    }
    master = start_master_data(uri, stack.tokens, log_dir=work, extra_env=bound)
    carts: dict[Transport, CartProcess] = {}
    try:
        await load_demo_catalog(master.url, stack.tokens.admin, demo_catalog(20))
        env = {
            "USE_ITEM_CACHE": "false",
            "HTTP_TIMEOUT": str(TRANSPORT_TIMEOUT),
            "GRPC_TIMEOUT": str(TRANSPORT_TIMEOUT),
            "REQUEST_TIMEOUT_SECONDS": str(REQUEST_BUDGET),
            "MAX_CONCURRENT_REQUESTS": "0",
            # Short, so that a wait for a pooled connection taken for a connect timeout would
            # be "unreachable" three times over well within the budget: 503, not 504.
            "HTTP_CONNECT_TIMEOUT": "0.1",
        }
        # Both at once: each start mostly waits for its process to answer.
        started = await asyncio.gather(
            *(
                asyncio.to_thread(
                    start_cart,
                    stack.mongodb_uri,
                    stack.tokens,
                    master,
                    transport=transport,
                    log_dir=work,
                    extra_env=env,
                    name=f"cart-{transport}",
                )
                for transport in Transport
            )
        )
        carts.update(zip(Transport, started, strict=True))
        yield SlowStack(database, master, carts)
    finally:
        for cart in carts.values():
            cart.process.stop()
        if master.process.running():
            master.process.resume()
        master.process.stop()
        database.resume()
        database.stop()


@dataclass(frozen=True)
class Answer:
    status: int
    code: str
    message: str
    seconds: float


class Terminal:
    """One registered terminal of one cart process, adding an item to carts of its own."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @classmethod
    async def open(cls, cart: CartProcess, stack: Stack, number: int) -> Terminal:
        client = await new_terminal(
            cart.url, stack.tokens.cart_admin, "demo", "S001", number,
            request_timeout=30, limits=httpx.Limits(max_connections=200),
        )  # fmt: skip
        return cls(client)

    async def new_cart(self) -> str:
        return str(data(await self.client.post("/carts"), 201)["cartId"])

    async def add(self, cart_id: str, code: str = "ITEM0001") -> Answer:
        started = time.monotonic()
        response = await self.client.post(f"/carts/{cart_id}/lineItems", json=[{"itemCode": code}])
        seconds = time.monotonic() - started
        if response.status_code == 200:
            return Answer(200, "", "", seconds)
        error = response.json()["error"]
        return Answer(response.status_code, error["code"], error["message"], seconds)


@pytest.fixture(scope="module")
async def terminals(
    slow_stack: SlowStack, stack: Stack, terminal_numbers: TerminalNumbers
) -> AsyncIterator[dict[Transport, Terminal]]:
    opened = {
        transport: await Terminal.open(slow_stack.carts[transport], stack, terminal_numbers.take())
        for transport in Transport
    }
    yield opened
    for terminal in opened.values():
        await terminal.client.aclose()


async def _sells_again(terminal: Terminal) -> None:
    cart_id = await terminal.new_cart()
    deadline = time.monotonic() + 20
    while (answer := await terminal.add(cart_id)).status != 200:
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.2)


async def test_a_stalled_master_data_answers_504_within_the_budget_and_no_pool_wait_is_retried(
    slow_stack: SlowStack, terminals: dict[Transport, Terminal]
) -> None:
    """master-data stopped (SIGSTOP): a lookup answers 504 MASTER_DATA_TIMEOUT within the
    request's budget (not HTTP_TIMEOUT/GRPC_TIMEOUT), the same on both transports; and under
    more concurrent lookups than cart's HTTP pool has connections, every one, those that
    waited for a pooled connection included, is that 504, none taken for "unreachable" (503)."""
    timeout = (504, "MASTER_DATA_TIMEOUT", "master-data did not answer in time.")
    many = HTTP_POOL + 20
    alone = {t: await terminals[t].new_cart() for t in Transport}
    crowd = {
        t: await asyncio.gather(*(terminals[t].new_cart() for _ in range(many))) for t in Transport
    }
    slow_stack.master.process.pause()
    try:
        answers = await asyncio.gather(*(terminals[t].add(alone[t]) for t in Transport))
        for transport, answer in zip(Transport, answers, strict=True):
            assert (answer.status, answer.code, answer.message) == timeout, (transport, answer)
            assert answer.seconds < REQUEST_BUDGET + 1.5, (transport, answer)
        seen = await asyncio.gather(
            *(terminals[t].add(cart_id) for t in Transport for cart_id in crowd[t])
        )
        for n, transport in enumerate(Transport):
            outcomes = Counter(
                (a.status, a.code, a.message) for a in seen[n * many : (n + 1) * many]
            )
            assert outcomes == {timeout: many}, (transport, outcomes)
    finally:
        slow_stack.master.process.resume()
    for terminal in terminals.values():
        await _sells_again(terminal)


async def test_master_data_at_its_bound_refuses_at_once_the_same_on_both_transports(
    slow_stack: SlowStack, terminals: dict[Transport, Terminal]
) -> None:
    """One lookup per port held inside master-data (its database paused) fills its bound of
    one; the next is refused on either port (at once on gRPC, after REQUEST_QUEUE_SECONDS on
    HTTP) (HTTP 503 OVERLOADED, gRPC UNAVAILABLE
    with x-error-code OVERLOADED), which cart answers alike, 503 MASTER_DATA_OVERLOADED, and
    does not retry: master-data saw one refusal per transport."""
    url = slow_stack.master.url
    refused_http = await metric_value(url, "http_request_duration_seconds_count", {"status": "503"})
    refused_grpc = await metric_value(url, "grpc_server_handled_total", {"code": "UNAVAILABLE"})
    first = {t: await terminals[t].new_cart() for t in Transport}
    second = {t: await terminals[t].new_cart() for t in Transport}
    slow_stack.database.pause()
    try:
        held = [asyncio.create_task(terminals[t].add(first[t], "ITEM0002")) for t in Transport]
        await asyncio.sleep(0.3)
        assert not any(task.done() for task in held)
        answers = {t: await terminals[t].add(second[t], "ITEM0003") for t in Transport}
        await asyncio.gather(*held)
    finally:
        slow_stack.database.resume()
    expected = (
        503,
        "MASTER_DATA_OVERLOADED",
        "master-data is serving as many calls as it can; try again shortly.",
    )
    for transport, answer in answers.items():
        assert (answer.status, answer.code, answer.message) == expected, (transport, answer)
    now_http = await metric_value(url, "http_request_duration_seconds_count", {"status": "503"})
    now_grpc = await metric_value(url, "grpc_server_handled_total", {"code": "UNAVAILABLE"})
    assert (now_http - refused_http, now_grpc - refused_grpc) == (1, 1)
    for terminal in terminals.values():
        await _sells_again(terminal)
