"""Builds the master-data repository of the configured transport, once, at start-up (in the
lifespan): its channel or HTTP session, the measurement of its calls, then the item cache and
the catalog feeds that keep it current (USE_ITEM_CACHE, on by default); and, with tracing on,
the spans of cart.masterdata.tracing around them. The wrappers (the item cache, the
measurement) are here too: each wraps either transport alike."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import CollectorRegistry, Histogram

from cart.domain.operations import ItemInfo, PaymentMethodInfo
from cart.masterdata.failures import MasterDataError, Retrier, RetryPolicy
from cart.masterdata.feed.feeds import CatalogFeeds, FeedSettings
from cart.masterdata.feed.item_cache import ItemCache
from cart.masterdata.grpc_adapter import GrpcMasterDataRepository, MasterDataChannel
from cart.masterdata.http_adapter import HttpMasterDataRepository, HttpSettings
from cart.masterdata.repository import ForwardingRepository, ItemLookup, MasterDataRepository
from cart.masterdata.tracing import TracedCalls, TracedLookups, traced_watch
from cart.settings import CartSettings
from pos_commons.instrumentation import grpc_client_interceptors
from pos_commons.metrics import LATENCY_BUCKETS
from pos_commons.request_context import record_timing
from pos_commons.tracing import Tracing
from pos_commons.transport import Transport

T = TypeVar("T")


def _over_http(
    settings: CartSettings, service_token: str, tracing: Tracing | None
) -> MasterDataRepository:
    # master-data over TLS when MASTER_DATA_TLS_CA_FILE is set (both transports).
    tls = settings.master_data_tls
    return HttpMasterDataRepository(
        settings.master_data_urls,
        service_token,
        Retrier(Transport.HTTP, settings.http_timeout, RetryPolicy()),
        HttpSettings(
            # Each lookup is bounded by HTTP_TIMEOUT as a whole (failures.Retrier); these
            # bound the TCP connect and each read within it.
            connect_timeout_seconds=settings.http_connect_timeout,
            read_timeout_seconds=settings.http_timeout,
            ssl_context=tls.ssl_context() if tls else None,
            tracing=tracing,
        ),
    )


def _over_grpc(
    settings: CartSettings, service_token: str, tracing: Tracing | None
) -> MasterDataRepository:
    tls = settings.master_data_tls
    channel = MasterDataChannel(
        settings.master_data_grpc_target,
        tls.grpc_credentials() if tls else None,
        grpc_client_interceptors(tracing),
    )
    return GrpcMasterDataRepository(
        channel, service_token, Retrier(Transport.GRPC, settings.grpc_timeout, RetryPolicy())
    )


BUILDERS: dict[Transport, Callable[[CartSettings, str, Tracing | None], MasterDataRepository]] = {
    Transport.HTTP: _over_http,
    Transport.GRPC: _over_grpc,
}


@dataclass(frozen=True)
class MasterData:
    """What cart reads master data through, and (with the item cache) the cache and feeds."""

    repository: MasterDataRepository
    cache: ItemCache | None = None
    feeds: CatalogFeeds | None = None


def create_master_data(
    settings: CartSettings,
    service_token: str,
    registry: CollectorRegistry,
    tracing: Tracing | None = None,
) -> MasterData:
    """The repository owns its channel or session (and feeds): closing it closes them."""
    repository: MasterDataRepository = MeasuredRepository(
        BUILDERS[settings.transport](settings, service_token, tracing), registry
    )
    if tracing is not None:
        repository = TracedCalls(repository, tracing, behind_cache=settings.use_item_cache)
    if not settings.use_item_cache:
        return MasterData(repository)
    cache = ItemCache(settings.item_cache_max_entries)
    watch = repository.watch_catalog
    feeds = CatalogFeeds(
        watch if tracing is None else traced_watch(watch, tracing, settings.transport),
        cache,
        FeedSettings(
            idle_seconds=settings.catalog_feed_idle_seconds,
            offline_seconds=settings.item_cache_offline_seconds,
        ),
        settings.transport,
        registry,
    )
    cached: MasterDataRepository = CachedRepository(repository, cache, feeds)
    if tracing is not None:
        cached = TracedLookups(cached, tracing)
    return MasterData(cached, cache, feeds)


class CachedRepository(ForwardingRepository):
    """USE_ITEM_CACHE (on by default): items and payment methods are answered from the item
    cache, which master-data's catalog feed keeps current (item_cache.py, feeds.py).

    A lookup the cache cannot answer goes to master-data with `fresh` (from its database: a
    replica whose own cache lags a change this process has applied already would give the
    old value back); the answer is kept only when the tenant's feed is live and no change of
    the tenant came in while it was in flight. Not-found answers are never kept.
    """

    def __init__(self, inner: MasterDataRepository, cache: ItemCache, feeds: CatalogFeeds):
        super().__init__(inner)
        self.cache = cache
        self.feeds = feeds

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

    async def close(self) -> None:
        await self.feeds.close()
        await super().close()


def _outcome(error: Exception | None) -> str:
    """The failure kind (failures.py) of a failed call."""
    if error is None:
        return "ok"
    return error.kind.value if isinstance(error, MasterDataError) else "error"


class MeasuredRepository(ForwardingRepository):
    """Records every call's latency per transport, operation and outcome (Prometheus), and adds
    it to the request's Server-Timing as ``masterdata;dur=...;desc="<transport>"``."""

    def __init__(self, inner: MasterDataRepository, registry: CollectorRegistry) -> None:
        super().__init__(inner)
        self._seconds = Histogram(
            "masterdata_call_duration_seconds",
            "cart's calls to master-data, by transport, operation and outcome.",
            ["transport", "operation", "outcome"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )

    async def around(self, operation: str, tenant_id: str, call: Callable[[], Awaitable[T]]) -> T:
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
