"""Builds the master-data repository of the configured transport, once, at start-up (in the
lifespan): its channel or HTTP clients, the measurement of its calls, then the item cache
and the catalog feeds that keep it current (USE_ITEM_CACHE, on by default); and, with tracing
on, the spans of cart.masterdata.tracing around them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from cart.masterdata.feeds import CatalogFeeds, FeedSettings
from cart.masterdata.grpc import GrpcMasterDataRepository
from cart.masterdata.grpc_channels import ChannelSettings, GrpcChannelPool
from cart.masterdata.http_clients import HttpClientPool, HttpClientSettings, StreamClient
from cart.masterdata.item_cache import ItemCache
from cart.masterdata.repository import MasterDataRepository
from cart.masterdata.retries import Retrier, RetryPolicy
from cart.masterdata.tracing import TracedCalls, TracedLookups, traced_watch
from cart.masterdata.web import WebMasterDataRepository, service_headers
from cart.masterdata.wrappers import CachedRepository, MeasuredRepository
from cart.settings import CartSettings
from pos_commons.instrumentation import grpc_client_interceptors
from pos_commons.tracing import Tracing
from pos_commons.transport import Transport


def _over_http(
    settings: CartSettings, service_token: str, tracing: Tracing | None
) -> MasterDataRepository:
    # master-data over TLS when MASTER_DATA_TLS_CA_FILE is set (both transports).
    tls = settings.master_data_tls
    client_settings = HttpClientSettings(
        kind=settings.master_data_http_client,
        # Each lookup is bounded by HTTP_TIMEOUT as a whole (retries.py); these bound the
        # TCP connect and each read within it.
        connect_timeout_seconds=settings.http_connect_timeout,
        read_timeout_seconds=settings.http_timeout,
        ssl_context=tls.ssl_context() if tls else None,
        tracing=tracing,
    )
    pool = HttpClientPool(client_settings)
    headers = service_headers(service_token)
    return WebMasterDataRepository(
        [pool.get(url, headers) for url in settings.master_data_urls],
        Retrier(Transport.HTTP, settings.http_timeout, RetryPolicy()),
        StreamClient(settings.master_data_urls, client_settings, headers),
    )


def _over_grpc(
    settings: CartSettings, service_token: str, tracing: Tracing | None
) -> MasterDataRepository:
    tls = settings.master_data_tls
    pool = GrpcChannelPool(ChannelSettings(), grpc_client_interceptors(tracing))
    channel = pool.steered(
        settings.master_data_grpc_target, tls.grpc_credentials() if tls else None
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
    """The repository owns its channel or clients (and feeds): closing it closes them."""
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
