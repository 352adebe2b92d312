"""The item-detail cache against the real database, in this process, so the interleaving of
a read and a write's invalidation can be chosen rather than hoped for."""

from __future__ import annotations

import asyncio

from master_data.services.item_details import CachedDetail, ItemDetailService
from master_data.services.tenants import TenantService
from pos_commons.cache import TtlCache
from pos_commons.mongo import Concerns, Mongo
from pos_devstack.seed import DemoCatalog


async def test_a_lookup_that_read_before_an_invalidation_does_not_put_its_answer_back(
    mongodb_uri: str, demo: DemoCatalog
) -> None:
    mongo = Mongo(
        mongodb_uri,
        database_prefix="masterdata",
        timeout_seconds=5,
        operation_timeout_seconds=5,
        max_idle_seconds=60,
        concerns=Concerns(),
    )
    details: TtlCache[tuple[str, str], CachedDetail] = TtlCache(60)
    reference: TtlCache[str, object] = TtlCache(60)
    service = ItemDetailService(mongo, TenantService(mongo), details, reference)
    key = ("S003", "ITEM0050")
    try:
        lookup = asyncio.create_task(service.get(demo.tenant_id, *key))
        await asyncio.sleep(0)  # the lookup has started and waits for MongoDB
        assert not lookup.done()
        service.invalidate(demo.tenant_id)  # a write's invalidation lands meanwhile
        answered = await lookup
        assert answered.item_code == "ITEM0050"
        assert details.get(demo.tenant_id, key) is None, "a stale read was put back"
        assert details.stats.stale_puts >= 1

        # Without a write in between, the answer is kept and served from the cache.
        again = await service.get(demo.tenant_id, *key)
        assert details.get(demo.tenant_id, key) is again
    finally:
        await mongo.close()
