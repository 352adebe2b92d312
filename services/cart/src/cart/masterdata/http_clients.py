"""Pooled HTTP clients to an upstream, one per base URL per process.

Three client libraries sit behind one small interface, because the library matters more than
the protocol on this path (docs/performance.md has the figures): ``aiohttp`` (the default),
``httpx`` and ``httpx-aiohttp`` (httpx's API over aiohttp's engine). Each raises the same three
errors, so callers map failures once, whatever the library. Retrying is the caller's business
(cart: one retry loop for both transports); "unreachable" is what it may retry: no connection,
or one that broke before a complete answer. Waiting for a free pooled connection is not
"unreachable": the clients bound the TCP connect and each read, and leave the bound of the
whole request (a wait for the pool included) to the caller.
"""

from __future__ import annotations

import itertools
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import aiohttp
import httpx
import orjson
from httpx_aiohttp import AiohttpTransport

from cart.masterdata.tracing import aiohttp_trace_configs, instrument_httpx
from pos_commons.tracing import Tracing


class HttpClientKind(StrEnum):
    AIOHTTP = "aiohttp"
    HTTPX = "httpx"
    HTTPX_AIOHTTP = "httpx-aiohttp"


class UpstreamError(Exception):
    """The upstream could not give a usable answer."""


class UpstreamUnreachableError(UpstreamError):
    """No connection, or it broke before a complete answer (refused, reset, closed by a
    server going away)."""


class UpstreamTimeoutError(UpstreamError):
    """Connected, but no complete answer within the time allowed."""


class UpstreamProtocolError(UpstreamError):
    """An answer came, but not one HTTP can make sense of."""


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
    ssl_context: ssl.SSLContext | None = None
    """Whom https:// upstreams are trusted to be, and the certificate we present (see
    pos_commons.tls); None: the system's CAs, no client certificate."""
    tracing: Tracing | None = None
    """Lookups traced (a client span each, the trace context in its headers) when set."""


class HttpClient(Protocol):
    """One upstream's pooled client, whatever library is behind it."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
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
                    limit=s.max_connections,
                    keepalive_timeout=s.keepalive_expiry_seconds,
                    ssl=s.ssl_context or True,
                ),
                # `connect` would also bound the wait for a free pooled connection and call it
                # a connect timeout ("unreachable", retried): only the TCP connect is bounded
                # here; the caller bounds the whole request, waits included.
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=None,
                    sock_connect=s.connect_timeout_seconds,
                    sock_read=s.read_timeout_seconds,
                ),
                json_serialize=lambda value: orjson.dumps(value).decode(),
                headers=self._headers,
                skip_auto_headers=("User-Agent",),
                trace_configs=aiohttp_trace_configs(s.tracing),
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> UpstreamResponse:
        try:
            async with self._open().request(
                method, self._base_url + path, params=params, headers=headers, json=json
            ) as response:
                return UpstreamResponse(response.status, await response.read())
        except aiohttp.ConnectionTimeoutError as exc:  # no connection within the time
            raise UpstreamUnreachableError(str(exc) or type(exc).__name__) from exc
        except (aiohttp.SocketTimeoutError, TimeoutError) as exc:
            raise UpstreamTimeoutError(str(exc) or "read timeout") from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            # Refused, reset, closed under us ("Cannot write to closing transport"), cut short:
            # every way a connection fails before a whole answer.
            raise UpstreamUnreachableError(str(exc) or type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamProtocolError(str(exc) or type(exc).__name__) from exc

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
            # No pool timeout: the caller bounds the whole request, the wait for a free
            # pooled connection included (a PoolTimeout would be "too slow" all the same).
            timeout=httpx.Timeout(
                s.read_timeout_seconds, connect=s.connect_timeout_seconds, pool=None,
            ),
            limits=httpx.Limits(
                max_connections=s.max_connections,
                max_keepalive_connections=s.max_connections,
                keepalive_expiry=s.keepalive_expiry_seconds,
            ),
            verify=s.ssl_context or True,
            transport=(
                AiohttpTransport(verify=s.ssl_context or True) if over_aiohttp else None
            ),
        )  # fmt: skip
        instrument_httpx(self._client, s.tracing)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> UpstreamResponse:
        try:
            response = await self._client.request(
                method, path, params=params, headers=headers, json=json
            )
        except (httpx.NetworkError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            raise UpstreamUnreachableError(str(exc) or type(exc).__name__) from exc
        except httpx.TimeoutException as exc:
            raise UpstreamTimeoutError(str(exc) or type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise UpstreamProtocolError(str(exc) or type(exc).__name__) from exc
        return UpstreamResponse(response.status_code, response.content)

    async def close(self) -> None:
        await self._client.aclose()


def create_http_client(
    base_url: str, settings: HttpClientSettings, headers: Mapping[str, str] | None = None
) -> HttpClient:
    """A client of `base_url` that sends `headers` (e.g. its bearer token) on every request;
    set once here, they cost nothing per request."""
    if settings.kind is HttpClientKind.AIOHTTP:
        return _AiohttpClient(base_url, settings, headers or {})
    over_aiohttp = settings.kind is HttpClientKind.HTTPX_AIOHTTP
    return _HttpxClient(base_url, settings, headers or {}, over_aiohttp=over_aiohttp)


class StreamClient:
    """Long-lived streaming GETs (master-data's catalog feed), each to the next of the
    replicas' base URLs.

    Its own aiohttp session: no read timeout (the reader times out idle streams itself),
    the lookups' connect timeout and TLS, and `headers` (the bearer token) on every request.
    Never traced: a stream lasts as long as its subscription (cart.masterdata.tracing traces
    the changes it brings).
    """

    def __init__(
        self,
        base_urls: Sequence[str],
        settings: HttpClientSettings,
        headers: Mapping[str, str],
    ) -> None:
        if not base_urls:
            raise ValueError("at least one base URL is needed")
        self._base_urls = itertools.cycle([url.rstrip("/") for url in base_urls])
        self._settings = settings
        self._headers = dict(headers)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            s = self._settings
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=s.ssl_context or True),
                timeout=aiohttp.ClientTimeout(total=None, connect=s.connect_timeout_seconds),
                headers=self._headers,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    @asynccontextmanager
    async def get(
        self, path: str, headers: Mapping[str, str]
    ) -> AsyncIterator[tuple[int, AsyncIterator[bytes], bytes]]:
        """(status, the body's lines, the whole body when the status is not 200) of GET
        `path` on the next replica; raises the Upstream* errors as the clients above do."""
        url = next(self._base_urls) + path
        try:
            async with self._open().get(url, headers=headers) as response:
                body = b"" if response.status == 200 else await response.read()
                yield response.status, _lines(response), body
        except aiohttp.ConnectionTimeoutError as exc:
            raise UpstreamUnreachableError(str(exc) or type(exc).__name__) from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise UpstreamUnreachableError(str(exc) or type(exc).__name__) from exc
        except (aiohttp.ClientError, ValueError) as exc:  # ValueError: a line too long
            raise UpstreamProtocolError(str(exc) or type(exc).__name__) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    async for line in response.content:
        yield line


class HttpClientPool:
    """Clients by base URL: `get` never builds two for one URL; `close` closes each once."""

    def __init__(self, settings: HttpClientSettings | None = None) -> None:
        self.settings = settings or HttpClientSettings()
        self._clients: dict[str, tuple[HttpClient, dict[str, str]]] = {}
        self._closed = False

    def get(self, base_url: str, headers: Mapping[str, str] | None = None) -> HttpClient:
        """The client of `base_url`; `headers` are fixed when it is first built."""
        if self._closed:
            raise RuntimeError("the HTTP client pool is closed")
        wanted = dict(headers or {})
        entry = self._clients.get(base_url)
        if entry is None:
            entry = (create_http_client(base_url, self.settings, wanted), wanted)
            self._clients[base_url] = entry
        elif entry[1] != wanted:
            raise ValueError(f"the client of {base_url} was built with other headers")
        return entry[0]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for client, _ in clients:
            await client.close()
