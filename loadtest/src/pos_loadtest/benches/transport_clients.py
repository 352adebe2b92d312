"""The three HTTP client libraries the transport bench compares (benches/transport.py), behind
one small interface: ``aiohttp`` (what cart uses), ``httpx`` and ``httpx-aiohttp`` (httpx's API
over aiohttp's engine). Cart itself has aiohttp alone (cart.masterdata.http_adapter); the
others live here because the library matters more than the protocol on this path
(docs/performance.md has the figures), and the bench keeps measuring that.

`BenchHttpRepository` is cart's HTTP repository with its one request sent by one of these
clients instead of cart's own aiohttp session: the same retries, decoding and failure table
around a different library. Any exception a library raises is left as it is: the bench counts
it as an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import aiohttp
import httpx
import orjson
from httpx_aiohttp import AiohttpTransport

from cart.masterdata.failures import Retrier
from cart.masterdata.http_adapter import HttpMasterDataRepository


class HttpClientKind(StrEnum):
    AIOHTTP = "aiohttp"
    HTTPX = "httpx"
    HTTPX_AIOHTTP = "httpx-aiohttp"


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(frozen=True)
class HttpClientSettings:
    kind: HttpClientKind = HttpClientKind.AIOHTTP
    connect_timeout_seconds: float = 1.0
    read_timeout_seconds: float = 2.0
    max_connections: int = 100
    keepalive_expiry_seconds: float = 30.0


class HttpClient(Protocol):
    """One upstream's pooled client, whatever library is behind it."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamResponse: ...

    async def close(self) -> None: ...


class _AiohttpClient:
    def __init__(
        self, base_url: str, settings: HttpClientSettings, headers: Mapping[str, str]
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._settings = settings
        self._headers = dict(headers)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop, as aiohttp requires.
        if self._session is None:
            s = self._settings
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=s.max_connections, keepalive_timeout=s.keepalive_expiry_seconds
                ),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=None,
                    sock_connect=s.connect_timeout_seconds,
                    sock_read=s.read_timeout_seconds,
                ),
                headers=self._headers,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamResponse:
        async with self._open().request(
            method, self._base_url + path, params=params, headers=headers
        ) as response:
            return UpstreamResponse(response.status, await response.read())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _HttpxClient:
    def __init__(
        self,
        base_url: str,
        settings: HttpClientSettings,
        headers: Mapping[str, str],
        over_aiohttp: bool,
    ) -> None:
        s = settings
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers),
            timeout=httpx.Timeout(
                s.read_timeout_seconds, connect=s.connect_timeout_seconds, pool=None
            ),
            limits=httpx.Limits(
                max_connections=s.max_connections,
                max_keepalive_connections=s.max_connections,
                keepalive_expiry=s.keepalive_expiry_seconds,
            ),
            transport=AiohttpTransport() if over_aiohttp else None,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamResponse:
        response = await self._client.request(method, path, params=params, headers=headers)
        return UpstreamResponse(response.status_code, response.content)

    async def close(self) -> None:
        await self._client.aclose()


def create_http_client(
    base_url: str, settings: HttpClientSettings, headers: Mapping[str, str] | None = None
) -> HttpClient:
    """A client of `base_url` that sends `headers` (e.g. its bearer token) on every request."""
    if settings.kind is HttpClientKind.AIOHTTP:
        return _AiohttpClient(base_url, settings, headers or {})
    over_aiohttp = settings.kind is HttpClientKind.HTTPX_AIOHTTP
    return _HttpxClient(base_url, settings, headers or {}, over_aiohttp=over_aiohttp)


class BenchHttpRepository(HttpMasterDataRepository):
    """Cart's HTTP repository over `client` (its base URL is the client's)."""

    def __init__(self, client: HttpClient, retrier: Retrier) -> None:
        # The client sends the service token itself; URLs are relative to its base URL.
        super().__init__([""], "", retrier)
        self._client = client

    def _send(self, url: str, headers: Mapping[str, str]) -> Awaitable[tuple[int, bytes]]:
        return self._call(url, headers)

    async def _call(self, url: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        response = await self._client.request("GET", url, headers=headers)
        return response.status, response.body

    async def close(self) -> None:
        await self._client.close()
        await super().close()
