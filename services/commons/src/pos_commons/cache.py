"""A bounded in-process TTL cache with per-namespace invalidation and hit statistics.

Namespaces are tenants: a write in one tenant drops that tenant's entries and no other.
Single event loop, no awaits inside: no locking needed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    invalidations: int = 0

    @property
    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class TtlCache(Generic[K, V]):
    """Entries keyed by (namespace, key), expiring `ttl_seconds` after they were put."""

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.stats = CacheStats()
        self._clock = clock
        self._entries: OrderedDict[tuple[str, K], tuple[float, V]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, namespace: str, key: K) -> V | None:
        if not self.enabled:
            return None
        entry = self._entries.get((namespace, key))
        if entry is None:
            self.stats.misses += 1
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[(namespace, key)]
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return value

    def put(self, namespace: str, key: K, value: V) -> None:
        if not self.enabled:
            return
        full_key = (namespace, key)
        self._entries[full_key] = (self._clock() + self.ttl_seconds, value)
        self._entries.move_to_end(full_key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.stats.evictions += 1

    def invalidate_namespace(self, namespace: str) -> None:
        doomed = [full_key for full_key in self._entries if full_key[0] == namespace]
        for full_key in doomed:
            del self._entries[full_key]
        self.stats.invalidations += 1

    def clear(self) -> None:
        self._entries.clear()
        self.stats.invalidations += 1
