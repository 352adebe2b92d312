"""An unhandled error, served for real (uvicorn with httptools, as the services run): the 500
says `Connection: close`, so a client with a pooled connection sends its next request on a
new one instead of on the connection the server is closing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from pos_commons.http_errors import install_error_handlers
from pos_devstack.processes import free_port


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/fine")
    async def fine() -> dict[str, bool]:
        return {"fine": True}

    return app


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        _app(), host="127.0.0.1", port=port, http="httptools", log_level="critical"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1_000):  # at most 10 s
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_the_500_of_a_bug_closes_the_connection_and_the_next_call_succeeds(
    server_url: str,
) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=server_url, limits=limits) as client:
        for _ in range(20):
            bug = await client.get("/bug")
            assert bug.status_code == 500
            assert bug.json()["error"]["code"] == "INTERNAL_ERROR"
            assert bug.headers["connection"] == "close"
            assert "a bug" not in bug.text
            # Sent at once, on the pool's one connection if the client still had it.
            assert (await client.get("/fine")).status_code == 200


async def test_the_server_does_close_that_connection(server_url: str) -> None:
    """Why the header must be there: after an unhandled error the server closes the
    connection even though the client asked to keep it."""
    host, port = server_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /bug HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(5):
            answer = await reader.read()  # to the end: the server closes the connection
        assert answer.startswith(b"HTTP/1.1 500")
        assert b"\r\nconnection: close\r\n" in answer.lower()
    finally:
        writer.close()
