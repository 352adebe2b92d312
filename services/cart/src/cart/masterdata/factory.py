"""Picks the master-data repository from USE_GRPC, once, at start-up (in the lifespan)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from cart.domain.operations import ItemInfo
from cart.masterdata.decorators import CachingRepository, MeasuredRepository
from cart.masterdata.grpc import GrpcMasterDataRepository
from cart.masterdata.grpc_channels import GrpcChannelPool
from cart.masterdata.http_clients import HttpClientPool
from cart.masterdata.repository import MasterDataRepository
from cart.masterdata.retries import Retrier, RetryPolicy
from cart.masterdata.web import WebMasterDataRepository, service_headers
from cart.settings import CartSettings
from pos_commons.cache import TtlCache


def create_master_data_repository(
    settings: CartSettings,
    service_token: str,
    channels: GrpcChannelPool,
    http_clients: HttpClientPool,
    registry: CollectorRegistry,
) -> MasterDataRepository:
    repository: MasterDataRepository
    if settings.use_grpc:
        tls = settings.master_data_tls
        credentials = tls.grpc_credentials() if tls else None
        repository = GrpcMasterDataRepository(
            channels.get(settings.master_data_grpc_target, credentials),
            service_token,
            Retrier("grpc", settings.grpc_timeout, RetryPolicy()),
        )
    else:
        headers = service_headers(service_token)
        repository = WebMasterDataRepository(
            [http_clients.get(url, headers) for url in settings.master_data_urls],
            Retrier("http", settings.http_timeout, RetryPolicy()),
        )
    if settings.use_item_cache:
        cache: TtlCache[tuple[str, str], ItemInfo] = TtlCache(settings.item_cache_ttl_seconds)
        repository = CachingRepository(repository, cache)
    return MeasuredRepository(repository, registry)
