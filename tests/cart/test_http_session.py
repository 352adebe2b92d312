"""cart's aiohttp session to master-data against small real HTTP servers: what each way a
request fails becomes (a kind of the failure table), and one session for every replica."""

from __future__ import annotations

import time

import pytest

from cart.masterdata.failures import Failure, MasterDataError, Retrier, RetryPolicy
from cart.masterdata.http_adapter import HttpMasterDataRepository, HttpSettings, fetch, open_session
from pos_commons.transport import Transport
from pos_devstack.processes import LOOPBACK, free_port
from tests.scripted import RESET, STALL, scripted_http

OK = (200, b'{"ok": true}')
FOUND_NOTHING = (200, b'{"success": true, "data": {"items": [], "notFoundItemCodes": ["X1"]}}')


async def test_session_headers_go_with_every_request() -> None:
    async with (
        scripted_http([OK]) as server,
        open_session(HttpSettings(), {"x-fixed": "1"}) as session,
    ):
        status, body = await fetch(session, f"{server.url}/a", {"x-extra": "2"})
        await fetch(session, f"{server.url}/b")
    assert (status, body) == OK
    assert [request.split(" ")[1] for request in server.seen] == ["/a", "/b"]
    assert server.headers[0]["x-fixed"] == "1"
    assert server.headers[0]["x-extra"] == "2"
    assert server.headers[1]["x-fixed"] == "1"


async def test_nobody_listening_is_unavailable() -> None:
    async with open_session(HttpSettings(), {}) as session:
        with pytest.raises(MasterDataError) as raised:
            await fetch(session, f"http://{LOOPBACK}:{free_port()}/x")
    assert raised.value.kind is Failure.UNAVAILABLE


async def test_a_connection_closed_without_an_answer_is_unavailable() -> None:
    """What a server going away does to a pooled connection: retrying it is safe."""
    async with scripted_http([OK, RESET]) as server, open_session(HttpSettings(), {}) as session:
        assert (await fetch(session, f"{server.url}/x"))[0] == 200
        with pytest.raises(MasterDataError) as raised:
            await fetch(session, f"{server.url}/x")
    assert raised.value.kind is Failure.UNAVAILABLE
    assert raised.value.retried


async def test_a_stalled_server_is_too_slow_not_an_outage() -> None:
    async with scripted_http([STALL]) as server:
        settings = HttpSettings(connect_timeout_seconds=0.5, read_timeout_seconds=0.5)
        started = time.monotonic()
        async with open_session(settings, {}) as session:
            with pytest.raises(MasterDataError) as raised:
                await fetch(session, f"{server.url}/x")
    assert raised.value.kind is Failure.TOO_SLOW
    assert 0.4 < time.monotonic() - started < 2


async def test_one_session_serves_every_replica_and_closes_once() -> None:
    async with scripted_http([FOUND_NOTHING]) as one, scripted_http([FOUND_NOTHING]) as two:
        repository = HttpMasterDataRepository(
            [one.url, two.url], "token", Retrier(Transport.HTTP, 5.0, RetryPolicy())
        )
        session = repository.session
        for _ in range(4):
            await repository.get_items("demo", "S001", ["X1"])
            assert repository.session is session
        await repository.close()
        await repository.close()
    assert len(one.seen) == len(two.seen) == 2
    assert session.closed
    with pytest.raises(RuntimeError):
        repository.session  # noqa: B018
