"""master-data's catalog feed against the real servers: the same messages over SSE and gRPC,
resuming from a token, refusals, its own replicas' caches following it, a subscriber that
falls behind."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc import aio
from pydantic.alias_generators import to_camel
from pymongo import AsyncMongoClient

from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    catalog_feed_service_pb2,
    catalog_feed_service_pb2_grpc,
)
from pos_devstack.processes import LOOPBACK
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import MasterDataProcess, Tokens, start_master_data
from tests.feed_clients import grpc_feed, sse_feed, until_caught_up
from tests.support import data, error_code, small_catalog

FEED = "/api/v1/tenants/{}/catalogFeed"


async def every_kind_of_change(admin: httpx.AsyncClient, tenant_id: str) -> None:
    """One change of each kind the feed carries, deletions included."""
    base = f"/api/v1/tenants/{tenant_id}"
    calls: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("PATCH", f"{base}/items/ITEM0001", {"unitPrice": "1.11"}, 200),
        ("POST", f"{base}/stores/S003/prices", {"itemCode": "ITEM0001", "price": "0.99"}, 201),
        ("PATCH", f"{base}/stores/S003/prices/ITEM0001", {"price": "0.98"}, 200),
        ("DELETE", f"{base}/stores/S003/prices/ITEM0001", None, 204),
        ("PATCH", f"{base}/taxRules/RED", {"rate": "7"}, 200),
        ("PATCH", f"{base}/paymentMethods/CARD", {"name": "Card (new)"}, 200),
        ("POST", f"{base}/paymentMethods",
         {"paymentCode": "GIFT", "name": "Gift", "canGiveChange": False,
          "canExceedBalance": False}, 201),
        ("DELETE", f"{base}/paymentMethods/GIFT", None, 204),
        ("POST", f"{base}/stores", {"storeCode": "S009", "name": "Pop-up"}, 201),
        ("DELETE", f"{base}/stores/S009", None, 204),
        ("DELETE", f"{base}/items/ITEM0002", None, 204),
        ("DELETE", f"{base}/items/ITEM0003?purge=true", None, 204),
    ]  # fmt: skip
    for method, path, body, status in calls:
        response = await admin.request(method, path, json=body)
        assert response.status_code == status, (method, path, response.text)


async def first_heartbeat_token(url: str, token: str, tenant_id: str) -> str:
    async with contextlib.aclosing(sse_feed(url, token, tenant_id)) as messages:
        caught_up = await until_caught_up(messages)
    return str(caught_up[-1]["token"])


def _comparable(message: dict[str, Any]) -> dict[str, Any]:
    """What both transports carry of a message (gRPC has no records' timestamps)."""
    if message["type"] != "change" or message["value"] is None:
        return message
    return {**message, "value": None}


_ENUM_PREFIXES = {"taxType": "TAX_TYPE_", "roundingMethod": "ROUNDING_METHOD_"}


def _values_agree(http: dict[str, Any], over_grpc: dict[str, Any]) -> None:
    """Every field of the gRPC record has the HTTP record's value (enums by their names)."""
    if http["type"] != "change" or http["value"] is None:
        return
    for name, value in over_grpc["value"].items():
        expected = http["value"][name]
        if name in _ENUM_PREFIXES:
            value = to_camel(value.removeprefix(_ENUM_PREFIXES[name]).lower())
        elif name in ("createdAt", "updatedAt"):
            value, expected = datetime.fromisoformat(value), datetime.fromisoformat(expected)
        assert expected == value, (name, http, over_grpc)


async def test_both_transports_deliver_the_same_messages_from_the_same_token(
    master_data: MasterDataProcess,
    tokens: Tokens,
    admin: httpx.AsyncClient,
    grpc_channel: aio.Channel,
) -> None:
    catalog = await small_catalog(master_data.url, tokens.admin)
    tenant = catalog.tenant_id
    start = await first_heartbeat_token(master_data.url, tokens.service, tenant)
    await every_kind_of_change(admin, tenant)

    async def both(token: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with (
            contextlib.aclosing(sse_feed(master_data.url, tokens.service, tenant, token)) as s,
            contextlib.aclosing(grpc_feed(grpc_channel, tokens.service, tenant, token)) as g,
        ):
            return await until_caught_up(s), await until_caught_up(g)

    over_http, over_grpc = await both(start)
    changes = [message for message in over_http if message["type"] == "change"]
    kinds = [(message["kind"], message["deleted"]) for message in changes]
    # Read after every write, an update carries its record as it is now: the store price
    # changed then removed is one insert and one delete (updateLookup, storage/changes.py).
    assert kinds == [
        ("item", False), ("storePrice", False), ("storePrice", True), ("taxRule", False),
        ("paymentMethod", False), ("paymentMethod", False), ("paymentMethod", True),
        ("store", False), ("store", True), ("item", False), ("item", True),
    ]  # fmt: skip
    assert changes[0]["value"]["unitPrice"] == "1.11"
    assert changes[2]["key"] == {"storeCode": "S003", "itemCode": "ITEM0001"}
    assert changes[9]["value"]["isDeleted"] is True
    assert changes[-1]["key"] == {"itemCode": "ITEM0003"}
    assert changes[-1]["value"] is None
    assert over_http[-1]["type"] == "heartbeat"
    assert [_comparable(m) for m in over_http[:-1]] == [_comparable(m) for m in over_grpc[:-1]]
    for http, rpc in zip(over_http, over_grpc, strict=True):
        _values_agree(http, rpc)

    # From the middle: the rest, the same on both.
    middle = changes[5]["token"]
    tail_http, tail_grpc = await both(middle)
    assert [_comparable(m) for m in tail_http[:-1]] == [_comparable(m) for m in over_http[6:-1]]
    assert [_comparable(m) for m in tail_grpc[:-1]] == [_comparable(m) for m in over_http[6:-1]]


async def test_live_changes_follow_the_first_heartbeat(
    master_data: MasterDataProcess, tokens: Tokens, admin: httpx.AsyncClient
) -> None:
    catalog = await small_catalog(master_data.url, tokens.admin)
    tenant = catalog.tenant_id
    async with contextlib.aclosing(sse_feed(master_data.url, tokens.service, tenant)) as feed:
        first = await anext(feed)
        assert first["type"] == "heartbeat"  # caught up at once: nothing to catch up on
        path = f"/api/v1/tenants/{tenant}/items/ITEM0004"
        assert (await admin.patch(path, json={"unitPrice": "4.44"})).status_code == 200
        async with asyncio.timeout(10):
            change = await anext(feed)
    assert change["kind"] == "item"
    assert change["value"]["unitPrice"] == "4.44"


@pytest.mark.parametrize(
    ("tenant", "headers", "status", "code"),
    [
        ("nosuchtenant", {}, 404, "TENANT_NOT_FOUND"),
        ("Bad Tenant", {}, 422, "INVALID_TENANT_ID"),
        ("demo", {"Last-Event-ID": "not-hex"}, 422, "INVALID_RESUME_TOKEN"),
        ("demo", {"Last-Event-ID": "ab" * 600}, 422, "INVALID_RESUME_TOKEN"),
        ("demo", {"Last-Event-ID": "abcdef"}, 422, "INVALID_RESUME_TOKEN"),  # not a real one
        ("demo", {"Authorization": None}, 401, "AUTH_REQUIRED"),
        ("demo", {"Authorization": "Bearer wrong"}, 401, "INVALID_TOKEN"),
    ],
)
async def test_refusals_are_answered_before_the_stream_on_both_transports(
    master_data: MasterDataProcess,
    tokens: Tokens,
    demo: DemoCatalog,
    grpc_channel: aio.Channel,
    tenant: str,
    headers: dict[str, str | None],
    status: int,
    code: str,
) -> None:
    sent = {"Authorization": f"Bearer {tokens.service}", **headers}
    http_headers = {name: value for name, value in sent.items() if value is not None}
    async with httpx.AsyncClient(base_url=master_data.url, timeout=10) as client:
        response = await client.get(FEED.format(tenant), headers=http_headers)
    assert error_code(response, status) == code

    metadata = [("authorization", v) for v in [sent["Authorization"]] if v is not None]
    stub = catalog_feed_service_pb2_grpc.CatalogFeedServiceStub(grpc_channel)
    request = catalog_feed_service_pb2.WatchCatalogRequest(
        tenant_id=tenant, resume_token=sent.get("Last-Event-ID") or ""
    )
    call = stub.WatchCatalog(request, metadata=metadata, timeout=10)
    with pytest.raises(aio.AioRpcError) as raised:
        await call.read()
    expected = {401: grpc.StatusCode.UNAUTHENTICATED, 404: grpc.StatusCode.NOT_FOUND,
                422: grpc.StatusCode.INVALID_ARGUMENT}[status]  # fmt: skip
    assert raised.value.code() is expected
    assert ("x-error-code", code) in list(raised.value.trailing_metadata() or ())


async def test_a_fresh_lookup_skips_the_cache_on_both_transports(
    master_data: MasterDataProcess, tokens: Tokens, reader: httpx.AsyncClient, demo: DemoCatalog
) -> None:
    path = f"/api/v1/tenants/{demo.tenant_id}/stores/S001/itemDetails?codes=ITEM0011"

    async def hits() -> int:
        return int(data(await reader.get("/api/v1/stats/cache"))["hits"])

    await reader.get(path)  # cached now
    before = await hits()
    await reader.get(path, headers={"Cache-Control": "no-cache"})
    assert await hits() == before
    await reader.get(path)
    assert await hits() == before + 1


@pytest.fixture(scope="module")
def replica(
    mongodb_uri: str, tokens: Tokens, master_data: MasterDataProcess, log_dir: Path
) -> Iterator[MasterDataProcess]:
    """A second master-data on the same database, whose cache would keep an old answer for
    ten minutes without the feed."""
    running = start_master_data(
        mongodb_uri, tokens, log_dir=log_dir, name="master-data-replica",
        extra_env={"ITEM_CACHE_TTL_SECONDS": "600"},
    )  # fmt: skip
    yield running
    running.process.stop()


async def test_a_replica_drops_its_cached_answer_when_another_changes_the_catalog(
    replica: MasterDataProcess, tokens: Tokens, admin: httpx.AsyncClient, master_data: Any
) -> None:
    catalog = await small_catalog(master_data.url, tokens.admin)
    lookup = f"/api/v1/tenants/{catalog.tenant_id}/stores/S002/itemDetails/ITEM0006"
    headers = {"Authorization": f"Bearer {tokens.service}"}
    async with httpx.AsyncClient(base_url=replica.url, headers=headers, timeout=10) as client:
        assert data(await client.get(lookup))["effectivePrice"] != "6.66"  # now in its cache
        path = f"/api/v1/tenants/{catalog.tenant_id}/items/ITEM0006"
        assert (await admin.patch(path, json={"unitPrice": "6.66"})).status_code == 200
        async with asyncio.timeout(10):
            while data(await client.get(lookup))["effectivePrice"] != "6.66":  # noqa: ASYNC110
                await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _unread_sse(url: str, token: str, tenant_id: str) -> AsyncIterator[socket.socket]:
    """An SSE request on a socket with a tiny receive buffer, which the test then leaves
    unread: the server's writes back up behind it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    port = int(url.rsplit(":", 1)[1])
    sock.connect((LOOPBACK, port))
    request = (
        f"GET {FEED.format(tenant_id)} HTTP/1.1\r\nHost: {LOOPBACK}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    )
    sock.sendall(request.encode())
    try:
        yield sock
    finally:
        sock.close()


def _dechunked(response: bytes) -> bytes:
    """The body of an HTTP/1.1 chunked response, as far as it came."""
    rest = response.split(b"\r\n\r\n", 1)[1]
    body = b""
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16) if size_line else 0
        if size == 0:
            break
        body, rest = body + rest[:size], rest[size + 2 :]
    return body


def _read_all(sock: socket.socket, within: float = 60.0) -> bytes:
    """Everything until the server closes the connection (at most `within` seconds)."""
    sock.settimeout(10)
    chunks = []
    deadline = time.monotonic() + within
    while chunk := sock.recv(65536):
        chunks.append(chunk)
        assert time.monotonic() < deadline, "the server did not close the connection"
    return b"".join(chunks)


async def test_a_subscriber_that_falls_behind_is_cut_off_and_resumes_without_a_gap(
    mongodb_uri: str, tokens: Tokens, log_dir: Path
) -> None:
    COUNT = 1_000  # noqa: N806
    slow_md = start_master_data(
        mongodb_uri, tokens, log_dir=log_dir, name="master-data-small-buffer",
        extra_env={"CATALOG_FEED_SUBSCRIBER_BUFFER": "8"},
    )  # fmt: skip
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
    try:
        catalog = await small_catalog(slow_md.url, tokens.admin)
        tenant = catalog.tenant_id
        async with _unread_sse(slow_md.url, tokens.service, tenant) as sock:
            await asyncio.sleep(0.5)  # subscribed (it got its first heartbeat)
            # Written straight into the database: the feed reads whatever changes it.
            description = "x" * 7500  # 7.5 MB in all: more than the sockets' buffers hold
            await client[f"masterdata_{tenant}"]["categories"].insert_one({"category_code": "Z"})
            await client[f"masterdata_{tenant}"]["stores"].insert_many(
                [{"store_code": f"P{n:05d}", "name": description, "is_active": True,
                  "created_at": 0, "updated_at": 0} for n in range(COUNT)]
            )  # fmt: skip
            cut_off = await asyncio.to_thread(_read_all, sock)  # returns once the server closes
        events = [block for block in _dechunked(cut_off).split(b"\n\n") if b"change" in block]
        assert 0 < len(events) < COUNT, "not cut off"
        last_id = next(line for line in events[-1].split(b"\n") if line.startswith(b"id: "))[4:]
        rest: list[dict[str, Any]] = []
        async with contextlib.aclosing(
            sse_feed(slow_md.url, tokens.service, tenant, last_id.decode())
        ) as messages:
            rest = await until_caught_up(messages)
        received = [b"P%05d" % n for n in range(COUNT)]
        # (The catalog's own stores may come first: "from now" is the feed's position.)
        codes = [block.split(b'"storeCode":"')[1][:6] for block in events]
        codes += [message["key"]["storeCode"].encode() for message in rest[:-1]]
        codes = [code for code in codes if code.startswith(b"P")]
        assert codes == received
    finally:
        await client.close()
        slow_md.process.stop()
