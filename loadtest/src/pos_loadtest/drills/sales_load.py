"""Terminals selling nonstop through cart while a drill breaks something, and what they saw:
every cart call counted, every failure by route and cause. Shared by the drills, the benches
that run under a sales load and the container smoke."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from pos_commons.transport import Transport

ITEMS_PER_SALE = 3


@dataclass
class DrillResult:
    transport: Transport
    restarts: int
    calls: int = 0
    sales: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    calls_while_draining: int = 0
    failed_while_draining: int = 0
    """Failed calls that ended within a replica's drain (after its SIGTERM, before its
    SHUTDOWN_DRAIN_SECONDS were over), while it still served."""

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def summary(self) -> str:
        detail = ", ".join(f"{n} x {what}" for what, n in self.failures.most_common()) or "none"
        return (
            f"{self.transport}: {self.restarts} restarts in {self.seconds:.0f}s, "
            f"{self.calls} cart calls ({self.sales} sales), {self.failed} failed ({detail}), "
            f"{self.failed_while_draining} of the {self.calls_while_draining} made while a "
            "replica drained"
        )


@dataclass
class SalesLoad:
    """Terminals selling nonstop (`terminal` per terminal) until `stop` is set; every cart
    call and failure counted in `result`."""

    codes: list[str]
    result: DrillResult
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def call(
        self, client: httpx.AsyncClient, method: str, path: str, body: object = None
    ) -> httpx.Response | None:
        self.result.calls += 1
        try:
            response = await client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            self.result.failures[f"{method} {route(path)}: {type(exc).__name__}"] += 1
            return None
        if response.status_code >= 400:
            code = response.json().get("error", {}).get("code", "?")
            what = f"{method} {route(path)}: {response.status_code} {code}"
            self.result.failures[what] += 1
            return None
        return response

    @asynccontextmanager
    async def selling(self, cart_url: str, api_keys: Sequence[str]) -> AsyncIterator[None]:
        """One terminal per key selling through cart while the block runs; then they finish
        the call they are in, and `result.seconds` says how long they sold."""
        clients = [
            httpx.AsyncClient(base_url=f"{cart_url}/api/v1", headers={"X-API-Key": key}, timeout=15)
            for key in api_keys
        ]
        workers = [
            asyncio.create_task(self.terminal(client, seed)) for seed, client in enumerate(clients)
        ]
        started = time.monotonic()
        try:
            yield
        finally:
            self.stop.set()
            await asyncio.gather(*workers)
            self.result.seconds = time.monotonic() - started
            for client in clients:
                await client.aclose()

    async def terminal(self, client: httpx.AsyncClient, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            created = await self.call(client, "POST", "/carts")
            if created is None:
                await asyncio.sleep(0.05)
                continue
            cart = f"/carts/{created.json()['data']['cartId']}"
            for _ in range(ITEMS_PER_SALE):
                await self.call(
                    client, "POST", f"{cart}/lineItems", [{"itemCode": rng.choice(self.codes)}]
                )
            paying = await self.call(client, "POST", f"{cart}/subtotal")
            if paying is None:
                continue
            due = Decimal(paying.json()["data"]["totals"]["balanceDue"])
            if due > 0:
                payment = {"paymentCode": "CASH", "amount": str(due)}
                await self.call(client, "POST", f"{cart}/payments", payment)
            if await self.call(client, "POST", f"{cart}/bill") is not None:
                self.result.sales += 1


def route(path: str) -> str:
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "carts":
        parts[1] = "{id}"
    return "/" + "/".join(parts)
