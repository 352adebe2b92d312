"""Builds the master-data repository of the configured transport, once, at start-up (in the
lifespan): its channel or HTTP clients, then the optional item cache and the measurement."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from cart.domain.operations import ItemInfo
from cart.masterdata.grpc import GrpcMasterDataRepository
from cart.masterdata.grpc_channels import ChannelSettings, GrpcChannelPool
from cart.masterdata.http_clients import HttpClientPool, HttpClientSettings
from cart.masterdata.repository import MasterDataRepository
from cart.masterdata.retries import Retrier, RetryPolicy
from cart.masterdata.web import WebMasterDataRepository, service_headers
from cart.masterdata.wrappers import CachingRepository, MeasuredRepository
from cart.settings import CartSettings
from pos_commons.cache import TtlCache
from pos_commons.transport import Transport


def _over_http(settings: CartSettings, service_token: str) -> MasterDataRepository:
    # master-data over TLS when MASTER_DATA_TLS_CA_FILE is set (both transports).
    tls = settings.master_data_tls
    pool = HttpClientPool(
        HttpClientSettings(
            kind=settings.master_data_http_client,
            # The first attempt is bounded by these (no extra timer); retries by what is left
            # of HTTP_TIMEOUT.
            connect_timeout_seconds=settings.http_connect_timeout,
            read_timeout_seconds=settings.http_timeout,
            ssl_context=tls.ssl_context() if tls else None,
        )
    )
    headers = service_headers(service_token)
    return WebMasterDataRepository(
        [pool.get(url, headers) for url in settings.master_data_urls],
        Retrier(Transport.HTTP, settings.http_timeout, RetryPolicy()),
    )


def _over_grpc(settings: CartSettings, service_token: str) -> MasterDataRepository:
    tls = settings.master_data_tls
    channel = GrpcChannelPool(ChannelSettings()).get(
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
    """The repository owns its channel or clients: closing it closes them."""
    repository = BUILDERS[settings.transport](settings, service_token)
    if settings.use_item_cache:
        cache: TtlCache[tuple[str, str], ItemInfo] = TtlCache(settings.item_cache_ttl_seconds)
        repository = CachingRepository(repository, cache)
    return MeasuredRepository(repository, registry)
