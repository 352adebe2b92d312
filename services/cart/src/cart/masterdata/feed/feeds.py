"""Following master-data's catalog feed: one subscription per tenant cart has looked up, over
the configured transport (USE_GRPC picks the feed's transport too).

Each tenant's follower applies every change to the item cache (item_cache.py) in the feed's
order and keeps the token of the last message applied. A heartbeat says it has caught up: the
tenant is then **live**, and its cache may answer lookups. When the stream breaks (master-data
restarting or gone, nothing heard for `idle_seconds`, a cut-off) it reconnects with full-jitter
backoff and resumes from its token; changes made meanwhile, through any master-data replica,
arrive then. "Start over" drops the tenant's entries.

While a tenant's feed is down, the cache goes on answering for `offline_seconds` after it was
last live (a master-data restart or a short outage costs no sale); past that, lookups go to
master-data as if there were no cache, until the feed is live again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from cart.masterdata.failures import MasterDataError
from cart.masterdata.feed.changes import CatalogChange, FeedMessage, Heartbeat, StartOver
from cart.masterdata.feed.item_cache import ItemCache
from pos_commons.errors import AppError
from pos_commons.transport import Transport

_log = logging.getLogger(__name__)

Watch = Callable[[str, str | None], AsyncGenerator[FeedMessage, None]]

LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class FeedState(StrEnum):
    CONNECTING = "connecting"
    """Connected or connecting, not caught up yet."""
    LIVE = "live"
    DOWN = "down"
    """Broken; reconnecting after a pause."""


@dataclass(frozen=True)
class FeedSettings:
    idle_seconds: float = 15.0
    """Nothing heard for this long (master-data heartbeats every 5 s): the feed is broken."""
    offline_seconds: float = 300.0
    """How long the cache answers after the feed was last live."""
    max_tenants: int = 1000
    """Tenants followed at most; lookups of others go to master-data, uncached."""
    backoff_initial_seconds: float = 0.25
    backoff_max_seconds: float = 2.0
    """Like the gRPC channel's reconnect backoff: back within two seconds of master-data."""


@dataclass
class TenantFeed:
    tenant_id: str
    state: FeedState = FeedState.CONNECTING
    token: str | None = None
    down_since: float | None = None
    """When it stopped being live (monotonic); None while live, and before it ever was."""
    changes: int = 0
    reconnects: int = 0
    start_overs: int = 0
    last_lag_seconds: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class CatalogFeeds:
    def __init__(
        self,
        watch: Watch,
        cache: ItemCache,
        settings: FeedSettings,
        transport: Transport,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._watch = watch
        self._cache = cache
        self._settings = settings
        self._transport = transport
        self._clock = clock
        self._feeds: dict[str, TenantFeed] = {}
        self._closed = False
        self._lag = Histogram(
            "catalog_feed_lag_seconds",
            "From a change's time in master-data's database to cart applying it.",
            ["transport"],
            registry=registry,
            buckets=LAG_BUCKETS,
        ).labels(transport)
        self._applied = Counter(
            "catalog_feed_changes_applied",
            "Catalog changes applied to the item cache, by kind.",
            ["transport", "kind"],
            registry=registry,
        )
        self._reconnects = Counter(
            "catalog_feed_reconnects",
            "Times a tenant's feed broke and was opened again.",
            ["transport"],
            registry=registry,
        ).labels(transport)
        self._start_overs = Counter(
            "catalog_feed_start_overs",
            "Times master-data said start over (the tenant's entries dropped).",
            ["transport"],
            registry=registry,
        ).labels(transport)
        registry.register(_FeedCollector(self))

    # -- what lookups ask ----------------------------------------------------------------------

    def serving(self, tenant_id: str) -> bool:
        """Whether the cache may answer the tenant's lookups (starts following it)."""
        feed = self._follow(tenant_id)
        if feed is None:
            return False
        if feed.state is FeedState.LIVE:
            return True
        down_since = feed.down_since
        return (
            down_since is not None and self._clock() - down_since <= self._settings.offline_seconds
        )

    def live(self, tenant_id: str) -> bool:
        """Whether what a lookup brings now may be kept: the feed will tell its changes."""
        feed = self._feeds.get(tenant_id)
        return feed is not None and feed.state is FeedState.LIVE

    def feeds(self) -> list[TenantFeed]:
        return list(self._feeds.values())

    def summary(self) -> dict[str, Any]:
        """For /health: how many tenants are in each state, and what the feeds did."""
        feeds = self.feeds()
        lags = [feed.last_lag_seconds for feed in feeds if feed.last_lag_seconds is not None]
        return {
            "transport": self._transport,
            "tenants": len(feeds),
            **{state.value: sum(f.state is state for f in feeds) for state in FeedState},
            "changesApplied": sum(f.changes for f in feeds),
            "reconnects": sum(f.reconnects for f in feeds),
            "startOvers": sum(f.start_overs for f in feeds),
            "lastLagSeconds": round(max(lags), 4) if lags else None,
            "offlineSeconds": self._settings.offline_seconds,
        }

    async def close(self) -> None:
        self._closed = True
        tasks = [feed.task for feed in self._feeds.values() if feed.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- following -----------------------------------------------------------------------------

    def _follow(self, tenant_id: str) -> TenantFeed | None:
        feed = self._feeds.get(tenant_id)
        if feed is not None:
            return feed
        if self._closed or len(self._feeds) >= self._settings.max_tenants:
            return None
        feed = self._feeds[tenant_id] = TenantFeed(tenant_id)
        feed.task = asyncio.get_running_loop().create_task(
            self._run(feed),
            name=f"catalog feed {tenant_id}",
            # Not the context of the request that asked first: its request id is not the feed's.
            context=contextvars.Context(),
        )
        return feed

    async def _run(self, feed: TenantFeed) -> None:
        failures = 0
        while True:
            try:
                await self._read(feed)
                failures = 0  # ended by master-data (it is draining): reconnect at once
            except (AppError, TimeoutError) as exc:
                failures += 1
                if isinstance(exc, MasterDataError):
                    message = exc.described()  # what was seen, not the terminal's message
                else:
                    message = str(exc) or "nothing heard for too long"
                log = _log.warning if feed.state is FeedState.LIVE else _log.debug
                log(
                    "catalog feed of %s over %s broke: %s", feed.tenant_id, self._transport, message
                )
            except Exception:
                failures += 1
                _log.exception("catalog feed of %s over %s failed", feed.tenant_id, self._transport)
            self._went_down(feed)
            await asyncio.sleep(self._backoff(failures))
            feed.reconnects += 1
            self._reconnects.inc()

    async def _read(self, feed: TenantFeed) -> None:
        messages = self._watch(feed.tenant_id, feed.token)
        async with contextlib.aclosing(messages):
            while True:
                async with asyncio.timeout(self._settings.idle_seconds):
                    message = await anext(messages, None)
                if message is None:
                    return
                self._apply(feed, message)

    def _apply(self, feed: TenantFeed, message: FeedMessage) -> None:
        if isinstance(message, CatalogChange):
            self._cache.apply(feed.tenant_id, message)
            feed.changes += 1
            lag = max(0.0, (datetime.now(UTC) - message.changed_at).total_seconds())
            feed.last_lag_seconds = lag
            self._lag.observe(lag)
            self._applied.labels(self._transport, message.kind).inc()
        elif isinstance(message, StartOver):
            _log.warning("catalog feed of %s: start over (%s)", feed.tenant_id, message.reason)
            self._cache.drop_tenant(feed.tenant_id)
            feed.start_overs += 1
            self._start_overs.inc()
        elif isinstance(message, Heartbeat) and feed.state is not FeedState.LIVE:
            if feed.down_since is not None:
                _log.info("catalog feed of %s live again", feed.tenant_id)
            feed.state = FeedState.LIVE
            feed.down_since = None
        feed.token = message.token

    def _went_down(self, feed: TenantFeed) -> None:
        if feed.state is FeedState.LIVE:
            feed.down_since = self._clock()
        feed.state = FeedState.DOWN

    def _backoff(self, failures: int) -> float:
        """Full jitter, exponential in the failures since the feed was last fine."""
        if failures == 0:
            return 0.0
        ceiling = self._settings.backoff_initial_seconds * 2 ** (failures - 1)
        return random.uniform(0, min(self._settings.backoff_max_seconds, ceiling))  # noqa: S311


class _FeedCollector:
    """Tenants per feed state, and the item cache's size and hit counters, for /metrics."""

    def __init__(self, feeds: CatalogFeeds) -> None:
        self._feeds = feeds

    def collect(self) -> Iterator[Metric]:
        feeds = self._feeds
        transport = feeds._transport
        states = GaugeMetricFamily(
            "catalog_feed_tenants",
            "Tenants followed, by feed state.",
            labels=["transport", "state"],
        )
        for state in FeedState:
            count = sum(feed.state is state for feed in feeds.feeds())
            states.add_metric([transport, state.value], count)
        yield states
        cache = feeds._cache
        stats = cache.stats
        yield CounterMetricFamily(
            "item_cache_hits", "Lookups the item cache answered.", value=stats.hits
        )
        yield CounterMetricFamily(
            "item_cache_misses", "Lookups the item cache could not answer.", value=stats.misses
        )
        yield CounterMetricFamily(
            "item_cache_evictions", "Entries dropped for space.", value=stats.evictions
        )
        entries = GaugeMetricFamily("item_cache_entries", "Entries held, by kind.", labels=["kind"])
        entries.add_metric(["item"], len(cache))
        entries.add_metric(["payment_method"], cache.payment_methods)
        yield entries
        yield GaugeMetricFamily(
            "item_cache_bytes", "Approximate memory the entries hold.", value=cache.bytes
        )
