"""send_with_retry and the three client libraries, against small real HTTP servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from pos_commons.http_clients import (
    HttpClientKind,
    HttpClientPool,
    HttpClientSettings,
    RetryPolicy,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
    create_http_client,
    send_with_retry,
)
from pos_devstack.processes import LOOPBACK, free_port

FAST_RETRIES = RetryPolicy(max_attempts=3, initial_backoff_seconds=0.01, max_backoff_seconds=0.02)


@dataclass
class ScriptedServer:
    """Answers the n-th request with statuses[n] (the last one repeats); None = never answer."""

    statuses: list[int | None]
    seen: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line = head.split(b"\r\n", 1)[0].decode()
                headers = {}
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.decode().partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                self.headers.append(headers)
                length = int(headers.get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                index = min(len(self.seen), len(self.statuses) - 1)
                self.seen.append(request_line)
                status = self.statuses[index]
                if status is None:
                    await asyncio.sleep(30)
                    return
                body = b'{"ok": true}'
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Serve = Callable[[list[int | None]], Awaitable[ScriptedServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(statuses: list[int | None]) -> ScriptedServer:
        scripted = ScriptedServer(statuses, port=free_port())
        servers.append(await asyncio.start_server(scripted.handle, LOOPBACK, scripted.port))
        return scripted

    yield start
    for server in servers:
        server.close()


KINDS = list(HttpClientKind)


@pytest.mark.parametrize("kind", KINDS)
async def test_idempotent_request_is_retried_through_503s(
    serve: Serve, kind: HttpClientKind
) -> None:
    server = await serve([503, 503, 200])
    client = create_http_client(f"http://{LOOPBACK}:{server.port}", HttpClientSettings(kind=kind))
    try:
        response = await send_with_retry(client, "GET", "/x", budget_seconds=5, policy=FAST_RETRIES)
    finally:
        await client.close()
    assert response.status == 200
    assert response.json() == {"ok": True}
    assert len(server.seen) == 3


@pytest.mark.parametrize("kind", KINDS)
async def test_client_headers_go_with_every_request(serve: Serve, kind: HttpClientKind) -> None:
    server = await serve([200])
    client = create_http_client(
        f"http://{LOOPBACK}:{server.port}", HttpClientSettings(kind=kind), {"x-fixed": "1"}
    )
    try:
        await client.request("GET", "/a", headers={"x-extra": "2"})
        await client.request("GET", "/b")
    finally:
        await client.close()
    assert [request.split(" ")[1] for request in server.seen] == ["/a", "/b"]
    assert server.headers[0]["x-fixed"] == "1"
    assert server.headers[0]["x-extra"] == "2"
    assert server.headers[1]["x-fixed"] == "1"


@pytest.mark.parametrize("kind", KINDS)
async def test_post_is_sent_once(serve: Serve, kind: HttpClientKind) -> None:
    server = await serve([503, 200])
    client = create_http_client(f"http://{LOOPBACK}:{server.port}", HttpClientSettings(kind=kind))
    try:
        response = await send_with_retry(
            client, "POST", "/x", json={"a": 1}, budget_seconds=5, policy=FAST_RETRIES
        )
    finally:
        await client.close()
    assert response.status == 503
    assert server.seen == ["POST /x HTTP/1.1"]


@pytest.mark.parametrize("kind", KINDS)
async def test_attempts_are_bounded(serve: Serve, kind: HttpClientKind) -> None:
    server = await serve([503])
    client = create_http_client(f"http://{LOOPBACK}:{server.port}", HttpClientSettings(kind=kind))
    try:
        response = await send_with_retry(client, "GET", "/x", budget_seconds=5, policy=FAST_RETRIES)
    finally:
        await client.close()
    assert response.status == 503
    assert len(server.seen) == 3


@pytest.mark.parametrize("kind", KINDS)
async def test_nobody_listening_is_unreachable_within_the_budget(kind: HttpClientKind) -> None:
    client = create_http_client(f"http://{LOOPBACK}:{free_port()}", HttpClientSettings(kind=kind))
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamUnreachableError):
            await send_with_retry(client, "GET", "/x", budget_seconds=2, policy=FAST_RETRIES)
    finally:
        await client.close()
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stalled_server_is_a_timeout_not_an_outage(
    serve: Serve, kind: HttpClientKind
) -> None:
    server = await serve([None])
    settings = HttpClientSettings(kind=kind, connect_timeout_seconds=0.5, read_timeout_seconds=0.5)
    client = create_http_client(f"http://{LOOPBACK}:{server.port}", settings)
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamTimeoutError):
            await send_with_retry(client, "GET", "/x", budget_seconds=0.5, policy=FAST_RETRIES)
    finally:
        await client.close()
    assert 0.4 < time.monotonic() - started < 2
    assert len(server.seen) == 1, "a timeout is not retried: the server may be working on it"


async def test_pool_builds_one_client_per_base_url_and_closes_once() -> None:
    pool = HttpClientPool()
    first = pool.get("http://127.0.0.1:1")
    assert pool.get("http://127.0.0.1:1") is first
    assert pool.get("http://127.0.0.1:2") is not first
    with pytest.raises(ValueError, match="other headers"):
        pool.get("http://127.0.0.1:1", {"authorization": "Bearer x"})
    await pool.close()
    await pool.close()
    with pytest.raises(RuntimeError):
        pool.get("http://127.0.0.1:1")


def test_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(initial_backoff_seconds=0.1, max_backoff_seconds=0.3)
    for attempt in range(1, 8):
        for _ in range(50):
            assert 0 <= policy.backoff(attempt) <= min(0.3, 0.1 * 2 ** (attempt - 1))
