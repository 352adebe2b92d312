"""Everything cart constructs once per process, built and closed by the app lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from cart.domain.operations import PricingPolicy
from cart.masterdata.factory import create_master_data
from cart.masterdata.feed.feeds import CatalogFeeds
from cart.masterdata.feed.item_cache import ItemCache
from cart.masterdata.repository import MasterDataRepository
from cart.services.carts import CartService
from cart.services.idempotency import Idempotency
from cart.services.terminals import REFUSED_KEYS_KEPT, TerminalService
from cart.settings import CartSettings
from cart.storage import DATABASE_PREFIX
from cart.storage.cart_cache import CartCache
from cart.storage.carts import CartStore, TenantDatabases
from cart.storage.idempotency import IdempotencyRecords
from cart.storage.stranded_sessions import StrandedSessions
from cart.storage.terminals import Terminal, TerminalStore
from cart.storage.transactions import TransactionStore
from cart.storage.unit_of_work import CartUnitOfWork
from pos_commons.auth import TokenVerifier
from pos_commons.cache import TtlCache
from pos_commons.instrumentation import mongo_listeners
from pos_commons.metrics import register_command_metrics
from pos_commons.mongo import Mongo
from pos_commons.tracing import Tracing


@dataclass
class CartResources:
    settings: CartSettings
    mongo: Mongo
    master_data: MasterDataRepository
    feeds: CatalogFeeds | None
    item_cache: ItemCache | None
    carts: CartService
    idempotency: Idempotency
    terminals: TerminalService
    terminal_store: TerminalStore
    stranded: StrandedSessions
    verifier: TokenVerifier
    registry: CollectorRegistry

    async def close(self) -> None:
        await self.master_data.close()
        await self.stranded.close()
        await self.mongo.close()


def build_resources(
    settings: CartSettings,
    verifier: TokenVerifier,
    service_token: str,
    registry: CollectorRegistry,
    tracing: Tracing | None = None,
) -> CartResources:
    mongo = Mongo.for_service(settings, DATABASE_PREFIX, mongo_listeners(tracing))
    register_command_metrics(registry, mongo.commands.counts)
    reached = create_master_data(settings, service_token, registry, tracing)
    master_data = reached.repository
    databases = TenantDatabases(mongo)
    terminal_store = TerminalStore(mongo)
    terminal_cache: TtlCache[str, Terminal] = TtlCache(settings.terminal_cache_ttl_seconds)
    stranded = StrandedSessions(mongo.client, settings.mongodb_operation_timeout_seconds)
    transactions = TransactionStore(databases)
    work = CartUnitOfWork(
        mongo,
        CartStore(databases),
        CartCache(settings.cart_cache_size, registry, settings.cart_cache_max_bytes),
        transactions,
        stranded,
        registry,
        settings.cart_ttl_seconds,
        settings.transaction_timeout_seconds,
        settings.cart_lock_max_waiters,
    )
    policy = PricingPolicy(
        settings.money_decimals, settings.max_lines_per_cart, settings.max_money_amount
    )
    carts = CartService(work, transactions, master_data, policy)
    return CartResources(
        settings=settings,
        mongo=mongo,
        master_data=master_data,
        feeds=reached.feeds,
        item_cache=reached.cache,
        carts=carts,
        idempotency=Idempotency(IdempotencyRecords(databases), settings.cart_ttl_seconds),
        terminals=TerminalService(
            terminal_store,
            terminal_cache,
            TtlCache(settings.terminal_cache_ttl_seconds, max_entries=REFUSED_KEYS_KEPT),
        ),
        terminal_store=terminal_store,
        stranded=stranded,
        verifier=verifier,
        registry=registry,
    )
