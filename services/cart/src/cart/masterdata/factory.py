"""Builds the master-data repository of the configured transport, once, at start-up (in the
lifespan): its channel or HTTP clients, the measurement of its calls, then the item cache
and the catalog feeds that keep it current (USE_ITEM_CACHE, on by default)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from cart.masterdata.feeds import CatalogFeeds, FeedSettings
from cart.masterdata.grpc import GrpcMasterDataRepository
from cart.masterdata.grpc_channels import ChannelSettings, GrpcChannelPool
from cart.masterdata.http_clients import HttpClientPool, HttpClientSettings, StreamClient
from cart.masterdata.item_cache import ItemCache
from cart.masterdata.repository import MasterDataRepository
from cart.masterdata.retries import Retrier, RetryPolicy
from cart.masterdata.web import WebMasterDataRepository, service_headers
from cart.masterdata.wrappers import CachedRepository, MeasuredRepository
from cart.settings import CartSettings
from pos_commons.transport import Transport


def _over_http(settings: CartSettings, service_token: str) -> MasterDataRepository:
    # master-data over TLS when MASTER_DATA_TLS_CA_FILE is set (both transports).
    tls = settings.master_data_tls
    client_settings = HttpClientSettings(
        kind=settings.master_data_http_client,
        # Each lookup is bounded by HTTP_TIMEOUT as a whole (retries.py); these bound the
        # TCP connect and each read within it.
        connect_timeout_seconds=settings.http_connect_timeout,
        read_timeout_seconds=settings.http_timeout,
        ssl_context=tls.ssl_context() if tls else None,
    )
    pool = HttpClientPool(client_settings)
    headers = service_headers(service_token)
    return WebMasterDataRepository(
        [pool.get(url, headers) for url in settings.master_data_urls],
        Retrier(Transport.HTTP, settings.http_timeout, RetryPolicy()),
        StreamClient(settings.master_data_urls, client_settings, headers),
    )


def _over_grpc(settings: CartSettings, service_token: str) -> MasterDataRepository:
    tls = settings.master_data_tls
    channel = GrpcChannelPool(ChannelSettings()).steered(
        settings.master_data_grpc_target, tls.grpc_credentials() if tls else None
    )
    return GrpcMasterDataRepository(
        channel, service_token, Retrier(Transport.GRPC, settings.grpc_timeout, RetryPolicy())
    )


BUILDERS: dict[Transport, Callable[[CartSettings, str], MasterDataRepository]] = {
    Transport.HTTP: _over_http,
    Transport.GRPC: _over_grpc,
}


def create_master_data_repository(
    settings: CartSettings, service_token: str, registry: CollectorRegistry
) -> MasterDataRepository:
    """The repository owns its channel or clients (and feeds): closing it closes them."""
    repository: MasterDataRepository = MeasuredRepository(
        BUILDERS[settings.transport](settings, service_token), registry
    )
    if not settings.use_item_cache:
        return repository
    cache = ItemCache(settings.item_cache_max_entries)
    feeds = CatalogFeeds(
        repository.watch_catalog,
        cache,
        FeedSettings(
            idle_seconds=settings.catalog_feed_idle_seconds,
            offline_seconds=settings.item_cache_offline_seconds,
        ),
        settings.transport,
        registry,
    )
    return CachedRepository(repository, cache, feeds)
