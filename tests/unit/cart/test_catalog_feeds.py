"""cart's catalog feed follower (cart/masterdata/feed/feeds.py) in isolation, fed by a scripted
stream: when the cache may answer, how long it goes on while the feed is down, where a
reconnection resumes from, and what "start over" drops. The transports' own streams are
tested against the real master-data (tests/cart/test_catalog_feed.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client import CollectorRegistry

from cart.domain.model import TaxType
from cart.masterdata.feed.changes import (
    CatalogChange,
    ChangeKind,
    FeedMessage,
    Heartbeat,
    StartOver,
    StorePriceRecord,
)
from cart.masterdata.feed.feeds import CatalogFeeds, FeedSettings, FeedState
from cart.masterdata.feed.item_cache import ItemCache
from pos_commons.errors import ServiceUnavailableError
from pos_commons.transport import Transport
from tests.unit.cart.catalog import item, tax_rule

T, S1 = "t1", "S001"
APPLE = item("A", "10.00", tax_rule=tax_rule("STD", TaxType.EXTERNAL, 10))

Step = FeedMessage | Exception | None
"""What the scripted stream does next: a message, a failure, or end (None)."""


class ScriptedFeed:
    """Streams whose messages the test hands over one at a time; remembers each token asked."""

    def __init__(self) -> None:
        self.steps: asyncio.Queue[Step] = asyncio.Queue()
        self.tokens: list[str | None] = []

    async def watch(self, tenant_id: str, token: str | None) -> AsyncGenerator[FeedMessage, None]:
        self.tokens.append(token)
        while True:
            step = await self.steps.get()
            if step is None:
                return
            if isinstance(step, Exception):
                raise step
            yield step


def _price(token: str, price: str) -> CatalogChange:
    record = StorePriceRecord(S1, "A", Decimal(price))
    key = {"store_code": S1, "item_code": "A"}
    return CatalogChange(ChangeKind.STORE_PRICE, key, record, datetime.now(UTC), token)


async def _settled(script: ScriptedFeed) -> None:
    """Until the follower has taken every scripted step and acted on it (it acts on a step
    before it waits again; its pauses between attempts are 1 ms)."""
    async with asyncio.timeout(10):
        while not script.steps.empty():  # noqa: ASYNC110 - the queue is the follower's
            await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)


@dataclass
class Following:
    """Feeds following a scripted master-data into an item cache, on a clock the test sets."""

    script: ScriptedFeed
    cache: ItemCache
    clock: list[float]
    feeds: CatalogFeeds

    async def live(self) -> None:
        """Tenant T followed and caught up (a heartbeat heard)."""
        self.feeds.serving(T)
        await self.script.steps.put(Heartbeat("h1"))
        await _settled(self.script)


@asynccontextmanager
async def _following(**settings: float) -> AsyncIterator[Following]:
    defaults = {"backoff_initial_seconds": 0.001, "backoff_max_seconds": 0.001}
    script, cache, clock = ScriptedFeed(), ItemCache(10), [0.0]
    feeds = CatalogFeeds(
        script.watch, cache, FeedSettings(**{**defaults, **settings}),  # type: ignore[arg-type]
        Transport.HTTP, CollectorRegistry(), clock=lambda: clock[0],
    )  # fmt: skip
    try:
        yield Following(script, cache, clock, feeds)
    finally:
        await feeds.close()


async def test_the_cache_answers_once_caught_up_and_for_the_bound_after_a_break() -> None:
    async with _following(offline_seconds=60) as f:
        assert not f.feeds.serving(T)  # starts following; nothing heard yet
        await _settled(f.script)
        assert not f.feeds.serving(T)
        assert not f.feeds.live(T)
        await f.script.steps.put(Heartbeat("h1"))
        await _settled(f.script)
        assert f.feeds.serving(T)
        assert f.feeds.live(T)
        await f.script.steps.put(ServiceUnavailableError("master-data went away"))
        await _settled(f.script)
        assert not f.feeds.live(T)
        f.clock[0] = 59.0
        assert f.feeds.serving(T)
        f.clock[0] = 61.0
        assert not f.feeds.serving(T)  # past the bound: lookups go to master-data
        await f.script.steps.put(Heartbeat("h2"))
        await _settled(f.script)
        assert f.feeds.serving(T)
        assert f.feeds.live(T)


async def test_changes_are_applied_and_a_reconnection_resumes_from_the_last_token() -> None:
    async with _following() as f:
        await f.live()
        f.cache.put_items(T, S1, [APPLE], f.cache.generation(T))
        await f.script.steps.put(_price("c1", "3.00"))
        await f.script.steps.put(None)  # master-data ends the stream (it drains)
        await f.script.steps.put(_price("c2", "4.00"))
        await f.script.steps.put(Heartbeat("h2"))
        await _settled(f.script)
        assert f.script.tokens == [None, "c1"]
        found, _ = f.cache.items(T, S1, ["A"])
        assert found["A"].effective_price == Decimal("4.00")
        assert f.feeds.summary()["changesApplied"] == 2


async def test_start_over_drops_the_tenant() -> None:
    async with _following() as f:
        await f.live()
        f.cache.put_items(T, S1, [APPLE], f.cache.generation(T))
        await f.script.steps.put(StartOver("s1", "history gone"))
        await f.script.steps.put(Heartbeat("h2"))
        await _settled(f.script)
        assert f.cache.items(T, S1, ["A"]) == ({}, ["A"])
        assert f.feeds.live(T)
        assert f.feeds.summary()["startOvers"] == 1


async def test_a_silent_stream_is_broken_and_opened_again() -> None:
    async with _following(idle_seconds=0.5) as f:
        await f.live()
        assert f.feeds.live(T)
        await asyncio.sleep(1.0)  # twice the idle time, nothing heard
        assert f.feeds.feeds()[0].state is not FeedState.LIVE
        assert f.script.tokens[:2] == [None, "h1"]


async def test_tenants_beyond_the_bound_are_not_followed() -> None:
    async with _following(max_tenants=1) as f:
        f.feeds.serving("a")
        assert not f.feeds.serving("b")
        assert [feed.tenant_id for feed in f.feeds.feeds()] == ["a"]
