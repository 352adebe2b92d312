"""Master data over HTTP/JSON (aiohttp): master-data's item-detail and payment-method
endpoints, and its catalog feed (Server-Sent Events).

MASTER_DATA_URL may list several replicas: calls go round-robin over them, and a retry goes
to the next one, so a replica that is restarting costs no call. One aiohttp session serves
every replica (its connector keeps a pool per host); the catalog feed has a session of its
own, without a read timeout (the reader times out idle streams itself) and never traced (a
stream lasts as long as its subscription; cart.masterdata.tracing traces the changes it
brings). Both are opened on first use, inside the running loop, as aiohttp requires, and
closed once.

What aiohttp raises becomes one of the failure table's kinds in one place (`_failure`):
"unavailable" (retried) is no connection, or one that broke before a complete answer. Waiting
for a free pooled connection is not "unavailable": the session bounds the TCP connect and
each read, and each attempt as a whole (a wait for the pool included) is bounded by the
retry's budget, past which it is "too slow".
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import orjson

from cart.domain.model import RoundingMethod, TaxRule, TaxType
from cart.domain.operations import ItemInfo, PaymentMethodInfo
from cart.masterdata.failures import Failure, MasterDataError, Retrier, by_code, failure
from cart.masterdata.feed.changes import (
    CatalogChange,
    ChangeKind,
    ChangeValue,
    FeedMessage,
    Heartbeat,
    ItemRecord,
    StartOver,
    StorePriceRecord,
    StoreRecord,
)
from cart.masterdata.feed.sse import sse_events
from cart.masterdata.repository import ItemLookup, TaxRuleMemo, in_batches, tax_rule
from cart.masterdata.tracing import aiohttp_trace_configs
from pos_commons.grpc_trailers import CACHE_CONTROL_KEY, NO_CACHE
from pos_commons.money import parse_decimal
from pos_commons.request_context import REQUEST_ID_HEADER, request_id_var
from pos_commons.tracing import Tracing
from pos_commons.transport import Transport

T = TypeVar("T")


def _tax_rule_from_json(rule: dict[str, Any]) -> TaxRule:
    return tax_rule(
        tax_code=rule["taxCode"],
        name=rule["name"],
        tax_type=TaxType(rule["taxType"]),
        rate=parse_decimal(rule["rate"]),
        rounding_digits=rule["roundingDigits"],
        rounding_method=RoundingMethod(rule["roundingMethod"]),
    )


def item_from_json(data: dict[str, Any], rules: TaxRuleMemo) -> ItemInfo:
    rule = data["taxRule"]
    raw_rule = (
        rule["taxCode"],
        rule["name"],
        rule["taxType"],
        rule["rate"],
        rule["roundingDigits"],
        rule["roundingMethod"],
    )
    return ItemInfo(
        item_code=data["itemCode"],
        description=data["description"],
        short_description=data["shortDescription"],
        category_code=data["categoryCode"],
        effective_price=parse_decimal(data["effectivePrice"]),
        is_discount_restricted=data["isDiscountRestricted"],
        is_deleted=data["isDeleted"],
        tax_rule=rules.get(raw_rule, lambda: _tax_rule_from_json(rule)),
        unit_price=parse_decimal(data["unitPrice"]),
        store_price=None if data["storePrice"] is None else parse_decimal(data["storePrice"]),
    )


def item_lookup_from_json(data: Any, rules: TaxRuleMemo) -> ItemLookup:
    found = {}
    for item in data["items"]:
        info = item_from_json(item, rules)
        found[info.item_code] = info
    missing = data["notFoundItemCodes"]
    if not isinstance(missing, list):
        raise TypeError("notFoundItemCodes is not a list")
    return ItemLookup(found, [str(code) for code in missing])


def item_record_from_json(data: Any) -> ItemRecord:
    return ItemRecord(
        item_code=data["itemCode"],
        description=data["description"],
        short_description=data["shortDescription"],
        category_code=data["categoryCode"],
        tax_code=data["taxCode"],
        unit_price=parse_decimal(data["unitPrice"]),
        is_discount_restricted=data["isDiscountRestricted"],
        is_deleted=data["isDeleted"],
    )


def _store_price_from_json(data: Any) -> StorePriceRecord:
    return StorePriceRecord(data["storeCode"], data["itemCode"], parse_decimal(data["price"]))


_VALUES: dict[ChangeKind, Callable[[Any], ChangeValue]] = {
    ChangeKind.ITEM: item_record_from_json,
    ChangeKind.STORE_PRICE: _store_price_from_json,
    ChangeKind.TAX_RULE: _tax_rule_from_json,
    ChangeKind.PAYMENT_METHOD: lambda data: payment_method_from_json(data),
    ChangeKind.STORE: lambda data: StoreRecord(data["storeCode"]),
}
_KEY_FIELDS = {"itemCode": "item_code", "storeCode": "store_code", "taxCode": "tax_code",
               "paymentCode": "payment_code"}  # fmt: skip


def feed_message_from_sse(event: str, data: str, token: str | None) -> FeedMessage:
    """A catalog feed message from its Server-Sent Event (master-data's api/catalog_feed.py)."""
    if not token:
        raise ValueError("an event without an id")
    if event == "heartbeat":
        return Heartbeat(token)
    body = orjson.loads(data)
    if event == "startOver":
        return StartOver(token, str(body["reason"]))
    if event != "change":
        raise ValueError(f"unknown event {event!r}")
    kind = ChangeKind(body["kind"])
    value = body["value"]
    return CatalogChange(
        kind=kind,
        key={_KEY_FIELDS[name]: str(code) for name, code in body["key"].items()},
        value=None if body["deleted"] else _VALUES[kind](value),
        changed_at=datetime.fromisoformat(body["changedAt"]),
        token=token,
    )


def payment_method_from_json(data: Any) -> PaymentMethodInfo:
    return PaymentMethodInfo(
        payment_code=data["paymentCode"],
        name=data["name"],
        can_give_change=data["canGiveChange"],
        can_exceed_balance=data["canExceedBalance"],
        is_active=data["isActive"],
    )


def service_headers(service_token: str) -> dict[str, str]:
    """What every request to master-data carries, set once on the session."""
    return {"authorization": f"Bearer {service_token}"}


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout_seconds: float = 1.0
    read_timeout_seconds: float = 2.0
    max_connections: int = 100
    """Per replica of MASTER_DATA_URL."""
    keepalive_expiry_seconds: float = 30.0
    ssl_context: ssl.SSLContext | None = None
    """Whom https:// upstreams are trusted to be, and the certificate we present (see
    pos_commons.tls); None: the system's CAs, no client certificate."""
    tracing: Tracing | None = None
    """Lookups traced (a client span each, the trace context in its headers) when set."""


def open_session(
    settings: HttpSettings, headers: Mapping[str, str], replicas: int = 1
) -> aiohttp.ClientSession:
    """The lookups' session: `headers` (the bearer token) on every request, set once here."""
    s = settings
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=s.max_connections * replicas,
            limit_per_host=s.max_connections,
            keepalive_timeout=s.keepalive_expiry_seconds,
            ssl=s.ssl_context or True,
        ),
        # `connect` would also bound the wait for a free pooled connection and call it a
        # connect timeout ("unavailable", retried): only the TCP connect is bounded here;
        # each attempt as a whole, waits included, is bounded by the retry's budget.
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=None,
            sock_connect=s.connect_timeout_seconds,
            sock_read=s.read_timeout_seconds,
        ),
        headers=dict(headers),
        skip_auto_headers=("User-Agent",),
        trace_configs=aiohttp_trace_configs(s.tracing),
    )


def _feed_session(settings: HttpSettings, headers: Mapping[str, str]) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=settings.ssl_context or True),
        timeout=aiohttp.ClientTimeout(total=None, connect=settings.connect_timeout_seconds),
        headers=dict(headers),
        skip_auto_headers=("User-Agent",),
    )


def _failure(exc: Exception) -> MasterDataError:
    """What aiohttp (or the attempt's own time limit) raised, as the failure table's kind."""
    seen = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # no connection within the time
        return failure(Failure.UNAVAILABLE, seen)
    if isinstance(exc, (aiohttp.SocketTimeoutError, TimeoutError)):
        return failure(Failure.TOO_SLOW, str(exc) or "no answer in time")
    if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)):
        # Refused, reset, closed under us ("Cannot write to closing transport"), cut short:
        # every way a connection fails before a whole answer.
        return failure(Failure.UNAVAILABLE, seen)
    return failure(Failure.BAD_ANSWER, seen)  # an answer HTTP cannot make sense of


async def fetch(
    session: aiohttp.ClientSession, url: str, headers: Mapping[str, str] | None = None
) -> tuple[int, bytes]:
    """The status and body of GET `url`; what went wrong, as a MasterDataError."""
    try:
        async with session.get(url, headers=headers) as response:
            return response.status, await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _failure(exc) from exc


_HTTP_STATUS = {
    401: Failure.REJECTED_CREDENTIALS,
    403: Failure.REJECTED_CREDENTIALS,
    # From a proxy or a server that is going away: the request was not processed.
    502: Failure.UNAVAILABLE,
    503: Failure.UNAVAILABLE,
    504: Failure.TOO_SLOW,
}


def _refusal(status: int, body: bytes) -> MasterDataError:
    """An answer other than 200, by its error envelope's code first, then its status."""
    try:
        envelope = orjson.loads(body)
    except ValueError:
        envelope = None
    error = envelope.get("error") if isinstance(envelope, dict) else None
    code = message = ""
    if isinstance(error, dict):
        code = str(error.get("code", ""))
        message = str(error.get("message", ""))
    kind = by_code(code)
    if kind is Failure.NOT_FOUND and status != 404:
        kind = None
    kind = kind or _HTTP_STATUS.get(status, Failure.BAD_ANSWER)
    return failure(kind, f"HTTP {status} {code}".strip(), code=code, message=message)


def _data(status: int, body: bytes) -> Any:
    """The envelope's `data` of a 200; any other answer, as its failure."""
    if status != 200:
        raise _refusal(status, body)
    try:
        envelope = orjson.loads(body)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or "data" not in envelope:
        raise failure(Failure.BAD_ANSWER, "HTTP 200 without an envelope's data")
    return envelope["data"]


class HttpMasterDataRepository:
    transport = Transport.HTTP

    def __init__(
        self,
        base_urls: Sequence[str],
        service_token: str,
        retrier: Retrier,
        settings: HttpSettings | None = None,
    ) -> None:
        """`base_urls`: the replicas of MASTER_DATA_URL."""
        if not base_urls:
            raise ValueError("at least one master-data URL is needed")
        self._base_urls = [url.rstrip("/") for url in base_urls]
        self._turn = itertools.cycle(range(len(self._base_urls)))
        self._feed_turn = itertools.cycle(self._base_urls)
        self._headers = service_headers(service_token)
        self._retrier = retrier
        self._settings = settings or HttpSettings()
        self._tax_rules = TaxRuleMemo()
        self._session: aiohttp.ClientSession | None = None
        self._feed: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def session(self) -> aiohttp.ClientSession:
        """The lookups' session, opened on first use."""
        if self._closed:
            raise RuntimeError("the master-data repository is closed")
        if self._session is None:
            self._session = open_session(self._settings, self._headers, len(self._base_urls))
        return self._session

    def _send(self, url: str, headers: Mapping[str, str]) -> Awaitable[tuple[int, bytes]]:
        """One GET, as `fetch` does it."""
        return fetch(self.session, url, headers)

    def _get(self, path: str, decode: Callable[[Any], T], fresh: bool = False) -> Awaitable[T]:
        # Round-robin over the replicas; each retry of this call goes to the next one after
        # the replica that failed it.
        turn = next(self._turn)

        async def attempt(seconds: float) -> T:
            nonlocal turn
            url = self._base_urls[turn] + path
            turn = (turn + 1) % len(self._base_urls)
            headers = {REQUEST_ID_HEADER: request_id_var.get()}
            if fresh:
                headers[CACHE_CONTROL_KEY] = NO_CACHE
            try:
                # The whole attempt, a wait for a pooled connection included: past it, "too
                # slow", never "unavailable" (the session bounds only the TCP connect).
                async with asyncio.timeout(seconds):
                    status, body = await self._send(url, headers)
            except TimeoutError as exc:
                raise _failure(exc) from exc
            data = _data(status, body)
            try:
                return decode(data)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                seen = f"malformed answer to GET {path}: {exc!r}"
                raise failure(Failure.BAD_ANSWER, seen) from exc

        return self._retrier.call(attempt)

    async def get_items(
        self, tenant_id: str, store_code: str, codes: Sequence[str], *, fresh: bool = False
    ) -> ItemLookup:
        path = f"/api/v1/tenants/{tenant_id}/stores/{store_code}/itemDetails?codes="

        def look_up(batch: Sequence[str]) -> Awaitable[ItemLookup]:
            # Item codes are [A-Za-z0-9_.-] (validated by cart's API): nothing to escape, so
            # the query is written as is rather than built by the client library.
            return self._get(path + ",".join(batch), self._item_lookup, fresh)

        return await in_batches(codes, look_up)

    def _item_lookup(self, data: Any) -> ItemLookup:
        return item_lookup_from_json(data, self._tax_rules)

    async def get_payment_method(
        self, tenant_id: str, payment_code: str, *, fresh: bool = False
    ) -> PaymentMethodInfo:
        path = f"/api/v1/tenants/{tenant_id}/paymentMethods/{payment_code}"
        return await self._get(path, payment_method_from_json, fresh)

    async def watch_catalog(
        self, tenant_id: str, token: str | None
    ) -> AsyncGenerator[FeedMessage, None]:
        if self._closed:
            raise RuntimeError("the master-data repository is closed")
        if self._feed is None:
            self._feed = _feed_session(self._settings, self._headers)
        url = f"{next(self._feed_turn)}/api/v1/tenants/{tenant_id}/catalogFeed"
        headers: dict[str, str] = {"accept": "text/event-stream"}
        if token is not None:
            headers["last-event-id"] = token
        try:
            async with self._feed.get(url, headers=headers) as response:
                if response.status != 200:
                    raise _refusal(response.status, await response.read())
                async for event in sse_events(_lines(response)):
                    try:
                        message = feed_message_from_sse(event.event, event.data, event.id)
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        seen = f"malformed catalog feed event: {exc!r}"
                        raise failure(Failure.BAD_ANSWER, seen) from exc
                    yield message
        except aiohttp.ClientError as exc:
            raise _failure(exc) from exc
        except ValueError as exc:  # a line too long
            raise failure(Failure.BAD_ANSWER, str(exc) or type(exc).__name__) from exc

    async def ready(self) -> bool:
        """Whether any replica is ready."""
        for base_url in self._base_urls:
            try:
                status, _ = await fetch(self.session, base_url + "/ready")
            except MasterDataError:
                continue
            if status == 200:
                return True
        return False

    async def close(self) -> None:
        self._closed = True
        for session in (self._session, self._feed):
            if session is not None:
                await session.close()
        self._session = self._feed = None


async def _lines(response: aiohttp.ClientResponse) -> AsyncGenerator[bytes, None]:
    async for line in response.content:
        yield line
