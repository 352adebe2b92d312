"""A bounded in-process TTL cache with per-namespace invalidation and hit statistics.

Namespaces are tenants: a write in one tenant drops that tenant's entries and no other.

Invalidation is a generation number per namespace, not a scan: `invalidate_namespace` bumps
it (O(1), whatever the size of the cache) and entries stored under an older generation read
as misses from then on (they leave on their next read, or by LRU eviction). A reader takes
the generation *before* it reads the source of truth and hands it to `put`; if a write
invalidated the namespace in between, `put` drops the value. So a slow read that saw the
old data can never put it back after a write's invalidation.

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
    stale_puts: int = 0
    """Values not stored because the namespace was invalidated while they were being read."""

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
        self._entries: OrderedDict[tuple[str, K], tuple[float, int, V]] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._epoch = 0
        """Bumped by `invalidate_all`, in the high bits of every namespace's generation."""

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    def __len__(self) -> int:
        return len(self._entries)

    def generation(self, namespace: str) -> int:
        """Take this before reading what will be `put`; see the module docstring."""
        return self._epoch + self._generations.get(namespace, 0)

    def get(self, namespace: str, key: K) -> V | None:
        if not self.enabled:
            return None
        full_key = (namespace, key)
        entry = self._entries.get(full_key)
        if entry is None:
            self.stats.misses += 1
            return None
        expires, generation, value = entry
        if expires <= self._clock() or generation != self.generation(namespace):
            del self._entries[full_key]
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return value

    def put(self, namespace: str, key: K, value: V, generation: int) -> None:
        """Stores `value`, read while the namespace was at `generation` (from `generation()`)."""
        if not self.enabled:
            return
        if generation != self.generation(namespace):
            self.stats.stale_puts += 1
            return
        full_key = (namespace, key)
        self._entries[full_key] = (self._clock() + self.ttl_seconds, generation, value)
        self._entries.move_to_end(full_key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.stats.evictions += 1

    def invalidate_namespace(self, namespace: str) -> None:
        self._generations[namespace] = self._generations.get(namespace, 0) + 1
        self.stats.invalidations += 1

    def invalidate_all(self) -> None:
        """Every namespace at once, reads in flight included (O(1), like one namespace)."""
        self._epoch += 1 << 32
        self._entries.clear()
        self.stats.invalidations += 1

    def clear(self) -> None:
        self._entries.clear()
        self.stats.invalidations += 1
