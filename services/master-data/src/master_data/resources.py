"""Everything master-data constructs once per process, built and closed by the app lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from master_data.services.catalog import Catalog
from master_data.services.catalog_feed import CatalogFeed, FeedSettings
from master_data.services.item_details import CachedDetail, ItemDetailService
from master_data.services.tenants import TenantService
from master_data.settings import MasterDataSettings
from master_data.storage import DATABASE_PREFIX
from master_data.storage.changes import ChangeStreams
from pos_commons.auth import TokenVerifier
from pos_commons.cache import TtlCache
from pos_commons.instrumentation import mongo_listeners
from pos_commons.metrics import register_command_metrics
from pos_commons.mongo import Mongo
from pos_commons.tracing import Tracing


@dataclass
class MasterDataResources:
    settings: MasterDataSettings
    mongo: Mongo
    tenants: TenantService
    catalog: Catalog
    item_details: ItemDetailService
    feed: CatalogFeed
    detail_cache: TtlCache[tuple[str, str], CachedDetail]
    verifier: TokenVerifier
    registry: CollectorRegistry

    async def close(self) -> None:
        """Closes what holds connections: the feed's change streams, then the MongoDB client
        (caches and services hold none)."""
        await self.feed.close()
        await self.mongo.close()


def build_resources(
    settings: MasterDataSettings,
    verifier: TokenVerifier,
    registry: CollectorRegistry,
    tracing: Tracing | None = None,
) -> MasterDataResources:
    mongo = Mongo.for_service(settings, DATABASE_PREFIX, mongo_listeners(tracing))
    register_command_metrics(registry, mongo.commands.counts)
    streams = ChangeStreams(mongo)
    tenants = TenantService(mongo, prepare=streams.prepare)
    detail_cache: TtlCache[tuple[str, str], CachedDetail] = TtlCache(
        settings.item_cache_ttl_seconds, settings.item_cache_max_entries
    )
    reference_cache: TtlCache[str, object] = TtlCache(settings.item_cache_ttl_seconds, 10_000)
    item_details = ItemDetailService(mongo, tenants, detail_cache, reference_cache)
    catalog = Catalog(mongo, tenants, item_details.invalidate, reference_cache)
    feed = CatalogFeed(
        streams,
        tenants,
        item_details.invalidate,
        item_details.invalidate_all,
        FeedSettings(
            heartbeat_seconds=settings.catalog_feed_heartbeat_seconds,
            subscriber_buffer=settings.catalog_feed_subscriber_buffer,
        ),
        registry,
    )
    return MasterDataResources(
        settings=settings,
        mongo=mongo,
        tenants=tenants,
        catalog=catalog,
        item_details=item_details,
        feed=feed,
        detail_cache=detail_cache,
        verifier=verifier,
        registry=registry,
    )
