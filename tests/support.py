"""Helpers the tests share (not fixtures): the running stack, envelope assertions."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from pos_devstack.seed import DemoCatalog, demo_catalog, load_demo_catalog
from pos_devstack.stack import MasterDataProcess, Tokens


@dataclass(frozen=True)
class Stack:
    mongodb_uri: str
    tokens: Tokens
    master_data: MasterDataProcess
    log_dir: Path


def data(response: httpx.Response, status: int = 200) -> Any:
    """The `data` of a success envelope, after checking status and shape."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert body["success"] is True, body
    assert isinstance(body["requestId"], str)
    assert body["requestId"]
    return body["data"]


def error_code(response: httpx.Response, status: int) -> str:
    """The error code of an error envelope, after checking status and shape."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert body["success"] is False, body
    assert set(body) == {"success", "error", "requestId"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"], body
    code: str = body["error"]["code"]
    return code


@dataclass
class TerminalNumbers:
    """Terminal numbers unique within the test session (terminals share one database)."""

    _next: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def take(self) -> int:
        return next(self._next)


async def register_terminal(
    cart_url: str, cart_admin_token: str, tenant_id: str, store_code: str, terminal_no: int
) -> str:
    """A new terminal's API key."""
    headers = {"Authorization": f"Bearer {cart_admin_token}"}
    async with httpx.AsyncClient(base_url=cart_url, headers=headers, timeout=10) as client:
        body = {"tenantId": tenant_id, "storeCode": store_code, "terminalNo": terminal_no}
        response = await client.post("/api/v1/terminals", json=body)
        created = data(response, 201)
        return str(created["apiKey"])


HTTPX_POOL = httpx.Limits(max_connections=100, max_keepalive_connections=20)
"""httpx's own default."""


def terminal_client(
    cart_url: str, api_key: str, *, request_timeout: float = 15, limits: httpx.Limits = HTTPX_POOL
) -> httpx.AsyncClient:
    """cart's terminal API (paths from /carts on) as the terminal whose key is `api_key`; the
    caller closes it (or uses it in `async with`)."""
    return httpx.AsyncClient(
        base_url=f"{cart_url}/api/v1",
        headers={"X-API-Key": api_key},
        timeout=request_timeout,
        limits=limits,
    )


async def new_terminal(
    cart_url: str,
    cart_admin_token: str,
    tenant_id: str,
    store_code: str,
    terminal_no: int,
    *,
    request_timeout: float = 15,
    limits: httpx.Limits = HTTPX_POOL,
) -> httpx.AsyncClient:
    """A terminal registered at cart, and its `terminal_client`:
    `async with await new_terminal(...) as client:`."""
    key = await register_terminal(cart_url, cart_admin_token, tenant_id, store_code, terminal_no)
    return terminal_client(cart_url, key, request_timeout=request_timeout, limits=limits)


async def metric_value(url: str, sample: str, labels: dict[str, str] | None = None) -> float:
    """The sum of `sample` (a name as exposed, e.g. `..._total`) in a process's /metrics,
    over the series whose labels include `labels`."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{url}/metrics")).text
    wanted = (labels or {}).items()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and wanted <= s.labels.items()
    )


async def stored_version(mongodb_uri: str, tenant_id: str, cart_id: str) -> int:
    """The stored cart's compare-and-swap `version` (1 when created, +1 per write), which the
    API does not show: read from cart's database."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
    try:
        document = await client[f"cart_{tenant_id}"]["carts"].find_one({"_id": cart_id})
    finally:
        await client.close()
    assert document is not None, cart_id
    return int(document["version"])


async def expire(mongodb_uri: str, tenant_id: str, cart_id: str) -> None:
    """The clock moved past the stored cart's expiry, instead of a wait for its TTL: what
    every process reading the cart from the database sees once `expires_at` has passed. The
    process that last wrote the cart keeps its own copy with the old expiry (the copies'
    expiry is tests/unit/cart/test_cart_cache.py's): read it through another process."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
    try:
        moved = await client[f"cart_{tenant_id}"]["carts"].update_one(
            {"_id": cart_id}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
        )
    finally:
        await client.close()
    assert moved.matched_count == 1, cart_id


@dataclass
class Till:
    """One terminal of one cart process, selling into one open cart: `scan` adds an item and
    tells what the line says and whether master-data was asked (cart's Server-Timing)."""

    client: httpx.AsyncClient
    cart_id: str

    @classmethod
    async def open(
        cls,
        cart_url: str,
        cart_admin_token: str,
        tenant_id: str,
        store_code: str,
        terminal_no: int,
    ) -> Till:
        """A new terminal, with a new cart."""
        client = await new_terminal(
            cart_url, cart_admin_token, tenant_id, store_code, terminal_no, request_timeout=10
        )
        cart_id = data(await client.post("/carts"), 201)["cartId"]
        return cls(client, cart_id)

    async def scan(self, item_code: str) -> Scan:
        response = await self.client.post(
            f"/carts/{self.cart_id}/lineItems", json=[{"itemCode": item_code}]
        )
        asked = "masterdata;" in response.headers.get("server-timing", "")
        if response.status_code != 200:
            return Scan(response.status_code, response.json()["error"]["code"], None, asked)
        line = response.json()["data"]["lines"][-1]
        return Scan(200, "", line, asked)

    async def close(self) -> None:
        await self.client.aclose()


@dataclass(frozen=True)
class Scan:
    status: int
    code: str
    line: dict[str, Any] | None
    asked_master_data: bool

    @property
    def price(self) -> str | None:
        return None if self.line is None else str(self.line["unitPrice"])


WITHIN = 10.0
"""How long a catalog change may take to show at cart (it takes milliseconds; this only
bounds a failure)."""


async def served_from_the_cache(till: Till, code: str, within: float = WITHIN) -> Scan:
    """Scans `code` until the cart answers it without asking master-data (the feed is live
    and the item cached)."""
    async with asyncio.timeout(within):
        while True:
            scan = await till.scan(code)
            if scan.status == 200 and not scan.asked_master_data:
                return scan
            await asyncio.sleep(0.02)


async def small_catalog(master_data_url: str, admin_token: str) -> DemoCatalog:
    """A fresh tenant with the first ten demo items (three stores, store prices, a deleted
    item, every payment method), for a test that changes its catalog."""
    catalog = dataclasses.replace(demo_catalog(10), tenant_id=f"f{uuid.uuid4().hex[:12]}")
    return await load_demo_catalog(master_data_url, admin_token, catalog)
