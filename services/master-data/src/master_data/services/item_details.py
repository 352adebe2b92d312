"""The merged item view (item + store price + tax rule) cart asks for, behind a TTL cache.

HTTP and gRPC both call this one service, so both transports see the same values. The cache
holds found and not-found answers; any write of this process in a tenant drops that tenant's
entries, and other processes' writes as soon as this process's catalog feed reads them from
the database's change stream (services/catalog_feed.py; ITEM_CACHE_TTL_SECONDS bounds it
while the feed is broken). A `fresh` lookup skips the cache (cart's, to fill its own). Every
read takes the tenant's cache generation before it reads MongoDB, so a lookup that read
before a write cannot put its old answer back after the write's invalidation (cache.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from master_data.domain import ItemDetail, ItemDetailBatch, TaxRule
from master_data.services.tenants import TenantService
from master_data.storage.kinds import ITEMS, STORE_PRICES, STORES, TAX_RULES
from master_data.storage.records import RecordStore
from pos_commons.cache import TtlCache
from pos_commons.errors import AppError, NotFoundError
from pos_commons.mongo import Mongo


class _Missing:
    """Cached answer "this item does not exist"."""


MISSING: Final = _Missing()

CachedDetail = ItemDetail | _Missing


class ItemDetailService:
    def __init__(
        self,
        mongo: Mongo,
        tenants: TenantService,
        details: TtlCache[tuple[str, str], CachedDetail],
        reference: TtlCache[str, object],
    ) -> None:
        self._tenants = tenants
        self._stores = RecordStore(mongo, STORES)
        self._items = RecordStore(mongo, ITEMS)
        self._prices = RecordStore(mongo, STORE_PRICES)
        self._tax_rules = RecordStore(mongo, TAX_RULES)
        self._details = details
        self._reference = reference

    def invalidate(self, tenant_id: str) -> None:
        self._details.invalidate_namespace(tenant_id)
        self._reference.invalidate_namespace(tenant_id)

    def invalidate_all(self) -> None:
        self._details.invalidate_all()
        self._reference.invalidate_all()

    async def get(
        self, tenant_id: str, store_code: str, item_code: str, *, fresh: bool = False
    ) -> ItemDetail:
        """One item's detail; `fresh` reads the database, not this process's cache (whose
        answer may lag a change another replica has published already)."""
        cached = None if fresh else self._details.get(tenant_id, (store_code, item_code))
        if isinstance(cached, ItemDetail):
            return cached
        if cached is None:
            generation = self._details.generation(tenant_id)
            await self._require_tenant_and_store(tenant_id, store_code)
            loaded = await self._load_and_cache(tenant_id, store_code, [item_code], generation)
            detail = loaded.get(item_code)
            if detail is not None:
                return detail
        raise NotFoundError(
            f"No item {item_code!r}.", code="ITEM_NOT_FOUND", details={"itemCode": item_code}
        )

    async def get_many(
        self, tenant_id: str, store_code: str, item_codes: Sequence[str], *, fresh: bool = False
    ) -> ItemDetailBatch:
        codes = list(dict.fromkeys(item_codes))
        generation = self._details.generation(tenant_id)
        found: dict[str, ItemDetail] = {}
        wanted: list[str] = []
        for code in codes:
            cached = None if fresh else self._details.get(tenant_id, (store_code, code))
            if isinstance(cached, ItemDetail):
                found[code] = cached
            elif cached is None:
                wanted.append(code)
        if wanted or not found:
            # Only a cache miss pays for the checks: a cached answer implies both passed.
            await self._require_tenant_and_store(tenant_id, store_code)
        if wanted:
            found.update(await self._load_and_cache(tenant_id, store_code, wanted, generation))
        return ItemDetailBatch(
            items=[found[code] for code in codes if code in found],
            not_found_item_codes=[code for code in codes if code not in found],
        )

    async def _require_tenant_and_store(self, tenant_id: str, store_code: str) -> None:
        await self._tenants.require(tenant_id)
        await self._require_store(tenant_id, store_code)

    async def _load_and_cache(
        self, tenant_id: str, store_code: str, codes: list[str], generation: int
    ) -> dict[str, ItemDetail]:
        loaded = await self._load(tenant_id, store_code, codes)
        for code in codes:
            self._details.put(tenant_id, (store_code, code), loaded.get(code, MISSING), generation)
        return loaded

    async def _require_store(self, tenant_id: str, store_code: str) -> None:
        key = f"store:{store_code}"
        if self._reference.get(tenant_id, key) is None:
            generation = self._reference.generation(tenant_id)
            await self._stores.get(tenant_id, {"store_code": store_code})
            self._reference.put(tenant_id, key, True, generation)

    async def _tax_rules_by_code(self, tenant_id: str) -> dict[str, TaxRule]:
        cached = self._reference.get(tenant_id, "tax_rules")
        if isinstance(cached, dict):
            return cached
        generation = self._reference.generation(tenant_id)
        rules = {rule.tax_code: rule for rule in await self._tax_rules.all(tenant_id)}
        self._reference.put(tenant_id, "tax_rules", rules, generation)
        return rules

    async def _load(
        self, tenant_id: str, store_code: str, codes: list[str]
    ) -> dict[str, ItemDetail]:
        items = await self._items.find_many(tenant_id, "item_code", codes)
        if not items:
            return {}
        prices = await self._prices.find_many(
            tenant_id, "item_code", [item.item_code for item in items], {"store_code": store_code}
        )
        override = {price.item_code: price.price for price in prices}
        rules = await self._tax_rules_by_code(tenant_id)
        details: dict[str, ItemDetail] = {}
        for item in items:
            rule = rules.get(item.tax_code)
            if rule is None:
                # Deleting a rule in use is refused, so this is a race with a concurrent change:
                # reload once rather than answer with a half-filled view.
                self._reference.invalidate_namespace(tenant_id)
                rules = await self._tax_rules_by_code(tenant_id)
                rule = rules.get(item.tax_code)
            if rule is None:
                raise AppError(
                    f"Item {item.item_code!r} names tax code {item.tax_code!r}, which is gone.",
                    code="CATALOG_INCONSISTENT",
                )
            details[item.item_code] = ItemDetail.merge(
                item, store_code, override.get(item.item_code), rule
            )
        return details
