"""Wrappers around either repository: the item cache (on by default), and measurement of every
call that reaches master-data."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TypeVar

from prometheus_client import CollectorRegistry, Histogram

from cart.domain.operations import ItemInfo, PaymentMethodInfo
from cart.masterdata.changes import FeedMessage
from cart.masterdata.failures import MasterDataCallError
from cart.masterdata.feeds import CatalogFeeds
from cart.masterdata.item_cache import ItemCache
from cart.masterdata.repository import ItemLookup, MasterDataRepository
from pos_commons.metrics import LATENCY_BUCKETS
from pos_commons.request_context import record_timing

T = TypeVar("T")


class CachedRepository:
    """USE_ITEM_CACHE (on by default): items and payment methods are answered from the item
    cache, which master-data's catalog feed keeps current (item_cache.py, feeds.py).

    A lookup the cache cannot answer goes to master-data with `fresh` (from its database: a
    replica whose own cache lags a change this process has applied already would give the
    old value back); the answer is kept only when the tenant's feed is live and no change of
    the tenant came in while it was in flight. Not-found answers are never kept.
    """

    def __init__(self, inner: MasterDataRepository, cache: ItemCache, feeds: CatalogFeeds):
        self._inner = inner
        self.cache = cache
        self.feeds = feeds
        self.transport = inner.transport

    async def get_items(
        self, tenant_id: str, store_code: str, codes: Sequence[str], *, fresh: bool = False
    ) -> ItemLookup:
        found: dict[str, ItemInfo] = {}
        wanted: Sequence[str] = codes
        if not fresh and self.feeds.serving(tenant_id):
            found, wanted = self.cache.items(tenant_id, store_code, codes)
            if not wanted:
                return ItemLookup(found, [])
        live = self.feeds.live(tenant_id)
        generation = self.cache.generation(tenant_id)
        fetched = await self._inner.get_items(tenant_id, store_code, wanted, fresh=True)
        if live:
            self.cache.put_items(tenant_id, store_code, fetched.found.values(), generation)
        if not found:
            return fetched
        return ItemLookup({**found, **fetched.found}, fetched.missing)

    async def get_payment_method(
        self, tenant_id: str, payment_code: str, *, fresh: bool = False
    ) -> PaymentMethodInfo:
        if not fresh and self.feeds.serving(tenant_id):
            method = self.cache.payment_method(tenant_id, payment_code)
            if method is not None:
                return method
        live = self.feeds.live(tenant_id)
        generation = self.cache.generation(tenant_id)
        method = await self._inner.get_payment_method(tenant_id, payment_code, fresh=True)
        if live:
            self.cache.put_payment_method(tenant_id, method, generation)
        return method

    def watch_catalog(self, tenant_id: str, token: str | None) -> AsyncGenerator[FeedMessage, None]:
        return self._inner.watch_catalog(tenant_id, token)

    async def ready(self) -> bool:
        return await self._inner.ready()

    async def close(self) -> None:
        await self.feeds.close()
        await self._inner.close()


def _outcome(error: Exception | None) -> str:
    """The failure kind (failures.py) of a failed call, from the failure it was raised from."""
    if error is None:
        return "ok"
    cause = error.__cause__
    return cause.kind.value if isinstance(cause, MasterDataCallError) else "error"


class MeasuredRepository:
    """Records every call's latency per transport, operation and outcome (Prometheus), and adds
    it to the request's Server-Timing as ``masterdata;dur=...;desc="<transport>"``."""

    def __init__(self, inner: MasterDataRepository, registry: CollectorRegistry) -> None:
        self._inner = inner
        self.transport = inner.transport
        self._seconds = Histogram(
            "masterdata_call_duration_seconds",
            "cart's calls to master-data, by transport, operation and outcome.",
            ["transport", "operation", "outcome"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )

    async def _measure(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        error: Exception | None = None
        try:
            return await call()
        except Exception as exc:
            error = exc
            raise
        finally:
            elapsed = time.perf_counter() - started
            self._seconds.labels(self.transport, operation, _outcome(error)).observe(elapsed)
            record_timing("masterdata", elapsed, self.transport)

    async def get_items(
        self, tenant_id: str, store_code: str, codes: Sequence[str], *, fresh: bool = False
    ) -> ItemLookup:
        return await self._measure(
            "get_items", lambda: self._inner.get_items(tenant_id, store_code, codes, fresh=fresh)
        )

    async def get_payment_method(
        self, tenant_id: str, payment_code: str, *, fresh: bool = False
    ) -> PaymentMethodInfo:
        return await self._measure(
            "get_payment_method",
            lambda: self._inner.get_payment_method(tenant_id, payment_code, fresh=fresh),
        )

    def watch_catalog(self, tenant_id: str, token: str | None) -> AsyncGenerator[FeedMessage, None]:
        return self._inner.watch_catalog(tenant_id, token)

    async def ready(self) -> bool:
        return await self._inner.ready()

    async def close(self) -> None:
        await self._inner.close()
