"""Wrappers around either repository: an optional item cache, and measurement of every call."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from prometheus_client import CollectorRegistry, Histogram

from cart.domain.operations import ItemInfo, PaymentMethodInfo
from cart.masterdata.failures import MasterDataCallError
from cart.masterdata.repository import ItemLookup, MasterDataRepository
from pos_commons.cache import TtlCache
from pos_commons.metrics import LATENCY_BUCKETS
from pos_commons.request_context import record_timing

T = TypeVar("T")


class CachingRepository:
    """USE_ITEM_CACHE: items found are kept for ITEM_CACHE_TTL_SECONDS in this process.

    Not-found answers are not cached, so an item created in master-data sells at once.
    """

    def __init__(self, inner: MasterDataRepository, cache: TtlCache[tuple[str, str], ItemInfo]):
        self._inner = inner
        self._cache = cache
        self.transport = inner.transport

    async def get_items(self, tenant_id: str, store_code: str, codes: Sequence[str]) -> ItemLookup:
        found: dict[str, ItemInfo] = {}
        wanted: list[str] = []
        generation = self._cache.generation(tenant_id)
        for code in codes:
            cached = self._cache.get(tenant_id, (store_code, code))
            if cached is None:
                wanted.append(code)
            else:
                found[code] = cached
        if not wanted:
            return ItemLookup(found, [])
        fetched = await self._inner.get_items(tenant_id, store_code, wanted)
        for code, item in fetched.found.items():
            self._cache.put(tenant_id, (store_code, code), item, generation)
        return ItemLookup({**found, **fetched.found}, fetched.missing)

    async def get_payment_method(self, tenant_id: str, payment_code: str) -> PaymentMethodInfo:
        return await self._inner.get_payment_method(tenant_id, payment_code)

    async def ready(self) -> bool:
        return await self._inner.ready()

    async def close(self) -> None:
        await self._inner.close()


def _outcome(error: Exception | None) -> str:
    """The failure kind (failures.py) of a failed call, from the failure it was raised from."""
    if error is None:
        return "ok"
    cause = error.__cause__
    return cause.kind.value if isinstance(cause, MasterDataCallError) else "error"


class MeasuredRepository:
    """Records every call's latency per transport, operation and outcome (Prometheus), and adds
    it to the request's Server-Timing as ``masterdata;dur=...;desc="<transport>"``."""

    def __init__(self, inner: MasterDataRepository, registry: CollectorRegistry) -> None:
        self._inner = inner
        self.transport = inner.transport
        self._seconds = Histogram(
            "masterdata_call_duration_seconds",
            "cart's calls to master-data, by transport, operation and outcome.",
            ["transport", "operation", "outcome"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )

    async def _measure(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
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

    async def get_items(self, tenant_id: str, store_code: str, codes: Sequence[str]) -> ItemLookup:
        return await self._measure(
            "get_items", lambda: self._inner.get_items(tenant_id, store_code, codes)
        )

    async def get_payment_method(self, tenant_id: str, payment_code: str) -> PaymentMethodInfo:
        return await self._measure(
            "get_payment_method", lambda: self._inner.get_payment_method(tenant_id, payment_code)
        )

    async def ready(self) -> bool:
        return await self._inner.ready()

    async def close(self) -> None:
        await self._inner.close()
