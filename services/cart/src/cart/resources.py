"""Everything cart constructs once per process, built and closed by the app lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from pymongo import WriteConcern
from pymongo.read_concern import ReadConcern

from cart.domain.operations import PricingPolicy
from cart.masterdata.factory import create_master_data_repository
from cart.masterdata.grpc_channels import ChannelSettings, GrpcChannelPool
from cart.masterdata.http_clients import HttpClientPool, HttpClientSettings
from cart.masterdata.repository import MasterDataRepository
from cart.services.carts import CartService
from cart.services.idempotency import Idempotency
from cart.services.terminals import TerminalService
from cart.settings import CartSettings
from cart.storage.cart_cache import RecentCarts
from cart.storage.carts import CartStore, TenantDatabases
from cart.storage.idempotency import IdempotencyRecords
from cart.storage.terminals import Terminal, TerminalStore
from cart.storage.transactions import TransactionStore
from pos_commons.auth import TokenVerifier
from pos_commons.cache import TtlCache
from pos_commons.metrics import register_command_metrics
from pos_commons.mongo import Concerns, Mongo


@dataclass
class CartResources:
    settings: CartSettings
    mongo: Mongo
    channels: GrpcChannelPool
    http_clients: HttpClientPool
    master_data: MasterDataRepository
    carts: CartService
    idempotency: Idempotency
    terminals: TerminalService
    terminal_store: TerminalStore
    verifier: TokenVerifier
    registry: CollectorRegistry

    async def close(self) -> None:
        await self.master_data.close()
        await self.channels.close()
        await self.http_clients.close()
        await self.mongo.close()


def build_resources(
    settings: CartSettings,
    verifier: TokenVerifier,
    service_token: str,
    registry: CollectorRegistry,
) -> CartResources:
    mongo = Mongo(
        settings.mongodb_uri.get_secret_value(),
        database_prefix="cart",
        timeout_seconds=settings.mongodb_timeout_seconds,
        max_idle_seconds=settings.mongodb_max_idle_seconds,
        concerns=Concerns(
            write=WriteConcern(w=settings.write_concern_w, j=settings.mongodb_journal),
            read=ReadConcern(settings.mongodb_read_concern),
        ),
    )
    register_command_metrics(registry, mongo.commands.counts)
    channels = GrpcChannelPool(ChannelSettings())
    # master-data over TLS (both transports) when MASTER_DATA_TLS_CA_FILE is set.
    tls = settings.master_data_tls
    http_clients = HttpClientPool(
        HttpClientSettings(
            kind=settings.master_data_http_client,
            # The first attempt is bounded by these (no extra timer, see send_with_retry);
            # retries by what is left of HTTP_TIMEOUT.
            connect_timeout_seconds=settings.http_connect_timeout,
            read_timeout_seconds=settings.http_timeout,
            ssl_context=tls.ssl_context() if tls else None,
        )
    )
    master_data = create_master_data_repository(
        settings, service_token, channels, http_clients, registry
    )
    databases = TenantDatabases(mongo)
    terminal_store = TerminalStore(mongo)
    terminal_cache: TtlCache[str, Terminal] = TtlCache(settings.terminal_cache_ttl_seconds)
    carts = CartService(
        mongo,
        CartStore(databases, RecentCarts(settings.cart_cache_size, registry)),
        TransactionStore(databases),
        master_data,
        PricingPolicy(
            settings.money_decimals, settings.max_lines_per_cart, settings.max_money_amount
        ),
        settings.cart_ttl_seconds,
        settings.transaction_timeout_seconds,
        registry,
    )
    return CartResources(
        settings=settings,
        mongo=mongo,
        channels=channels,
        http_clients=http_clients,
        master_data=master_data,
        carts=carts,
        idempotency=Idempotency(IdempotencyRecords(databases), settings.cart_ttl_seconds),
        terminals=TerminalService(terminal_store, terminal_cache),
        terminal_store=terminal_store,
        verifier=verifier,
        registry=registry,
    )
