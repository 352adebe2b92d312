"""Helpers the tests share (not fixtures): the running stack, envelope assertions."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

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
    cart_url: str, admin_token: str, tenant_id: str, store_code: str, terminal_no: int
) -> str:
    """A new terminal's API key."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=cart_url, headers=headers, timeout=10) as client:
        body = {"tenantId": tenant_id, "storeCode": store_code, "terminalNo": terminal_no}
        response = await client.post("/api/v1/terminals", json=body)
        created = data(response, 201)
        return str(created["apiKey"])


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
