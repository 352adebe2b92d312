"""The three client libraries behind one interface, against small real HTTP servers: the same
three errors whatever the library, and one pooled client per base URL."""

from __future__ import annotations

import time

import pytest

from cart.masterdata.http_clients import (
    HttpClientKind,
    HttpClientPool,
    HttpClientSettings,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
    create_http_client,
)
from pos_devstack.processes import LOOPBACK, free_port
from tests.scripted import RESET, STALL, scripted_http

KINDS = list(HttpClientKind)
OK = (200, b'{"ok": true}')


@pytest.mark.parametrize("kind", KINDS)
async def test_client_headers_go_with_every_request(kind: HttpClientKind) -> None:
    async with scripted_http([OK]) as server:
        client = create_http_client(server.url, HttpClientSettings(kind=kind), {"x-fixed": "1"})
        try:
            response = await client.request("GET", "/a", headers={"x-extra": "2"})
            await client.request("GET", "/b")
        finally:
            await client.close()
    assert response.status == 200
    assert response.json() == {"ok": True}
    assert [request.split(" ")[1] for request in server.seen] == ["/a", "/b"]
    assert server.headers[0]["x-fixed"] == "1"
    assert server.headers[0]["x-extra"] == "2"
    assert server.headers[1]["x-fixed"] == "1"


@pytest.mark.parametrize("kind", KINDS)
async def test_nobody_listening_is_unreachable(kind: HttpClientKind) -> None:
    client = create_http_client(f"http://{LOOPBACK}:{free_port()}", HttpClientSettings(kind=kind))
    try:
        with pytest.raises(UpstreamUnreachableError):
            await client.request("GET", "/x")
    finally:
        await client.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_connection_closed_without_an_answer_is_unreachable(kind: HttpClientKind) -> None:
    """What a server going away does to a pooled connection: retrying it is safe."""
    async with scripted_http([OK, RESET]) as server:
        client = create_http_client(server.url, HttpClientSettings(kind=kind))
        try:
            assert (await client.request("GET", "/x")).status == 200
            with pytest.raises(UpstreamUnreachableError):
                await client.request("GET", "/x")
        finally:
            await client.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stalled_server_is_a_timeout_not_an_outage(kind: HttpClientKind) -> None:
    async with scripted_http([STALL]) as server:
        settings = HttpClientSettings(
            kind=kind, connect_timeout_seconds=0.5, read_timeout_seconds=0.5
        )
        client = create_http_client(server.url, settings)
        started = time.monotonic()
        try:
            with pytest.raises(UpstreamTimeoutError):
                await client.request("GET", "/x")
        finally:
            await client.close()
    assert 0.4 < time.monotonic() - started < 2


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
