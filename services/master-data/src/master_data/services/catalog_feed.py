"""master-data's catalog feed: one change stream per process, fanned out to every subscriber.

The **reader** follows the cluster-wide change stream of every tenant's catalog (storage/
changes.py) from the process's start to its stop. For each change it first drops the
tenant's entries from this process's own caches (so replicas agree within the feed's lag,
not a TTL), then offers it to the tenant's subscribers. When the stream breaks it reopens
from its last position; when that position is lost it starts over from now, and so does
every subscriber (they drop what they kept).

A **subscriber** gets, in order:

- resuming from a token: the changes after it, read from a catch-up stream of its own that
  lasts until the feed's mark (see storage/changes.py); a token whose history is gone gets a
  start-over message instead;
- a heartbeat: "you have every change up to my token" (a subscriber knows then that it is
  caught up);
- then the shared stream's changes, and a heartbeat whenever nothing happened for
  `heartbeat_seconds` (while the reader is up: a subscriber that hears nothing knows the
  feed is broken and reconnects).

Every subscriber has a bounded buffer. One that falls further behind is cut off: its call is
cancelled under it (it is blocked sending to a client that does not read), and it reconnects
with its last token, never buffered without limit. On drain every stream ends, so
subscribers reconnect to a replica that stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.errors import PyMongoError

from master_data.domain import CatalogChange, FeedHeartbeat, FeedMessage, FeedStartOver
from master_data.services.tenants import TenantService
from master_data.storage.changes import (
    ChangeStreams,
    Dropped,
    HistoryLostError,
    Mark,
    StreamEvent,
    token_of,
)
from pos_commons.errors import ServiceUnavailableError
from pos_commons.mongo import DatabaseUnavailableError, Document

_log = logging.getLogger(__name__)

Invalidate = Callable[[str], None]
InvalidateAll = Callable[[], None]

_HISTORY_LOST = "The feed's history after this token is gone: start over."
_DROPPED = "A collection of the tenant's catalog was dropped: start over."


class FeedClosedError(ServiceUnavailableError):
    default_code = "SHUTTING_DOWN"


@dataclass(frozen=True)
class FeedSettings:
    heartbeat_seconds: float = 5.0
    subscriber_buffer: int = 1000
    """Messages a subscriber may be behind before it is cut off."""
    reopen_backoff_seconds: float = 0.5


class _End:
    """Ends a subscription cleanly (the process is draining)."""


_END = _End()


class Subscription:
    """One subscriber: its catch-up, then what the reader offers it (see the module docstring)."""

    def __init__(self, feed: CatalogFeed, tenant_id: str, position: str) -> None:
        self.tenant_id = tenant_id
        self.cut_off = False
        self._feed = feed
        self._position = position
        self._queue: deque[StreamEvent | _End] = deque()
        self._queued = asyncio.Event()
        self._consumer: asyncio.Task[Any] | None = None
        self._catch_up: AsyncChangeStream[Document] | None = None
        self._mark: str | None = None
        self._start_over: str | None = None

    def offer(self, event: StreamEvent | _End) -> None:
        """Called by the reader, on the loop, for every event of the tenant."""
        if self.cut_off:
            return
        if len(self._queue) >= self._feed.settings.subscriber_buffer and event is not _END:
            self.cut_off = True
            self._queue.clear()
            self._feed.metrics.cut_offs.inc()
            _log.warning("catalog feed: a subscriber of %s fell behind; cut off", self.tenant_id)
            if self._consumer is not None and not self._consumer.done():
                # It is blocked sending to a client that does not read: only this frees it.
                self._consumer.cancel()
            return
        self._queue.append(event)
        self._queued.set()

    async def _next(self, wait_seconds: float) -> StreamEvent | _End | None:
        if not self._queue:
            self._queued.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_seconds):
                    await self._queued.wait()
        return self._queue.popleft() if self._queue else None

    async def messages(self) -> AsyncGenerator[FeedMessage, None]:
        """The subscriber's messages, until the client leaves, the process drains or the
        subscriber falls behind (then the consuming task is cancelled). Close it (aclosing)."""
        self._consumer = asyncio.current_task()
        heartbeat = self._feed.settings.heartbeat_seconds
        try:
            if self._start_over is not None:
                yield FeedStartOver(self._position, self._start_over)
            if self._catch_up is not None:
                async for message in self._caught_up(self._catch_up):
                    yield message
            yield FeedHeartbeat(self._position, datetime.now(UTC))
            waiting_for = self._mark
            while True:
                event = await self._next(heartbeat)
                if event is None:
                    if self._feed.up:
                        position = self._position if waiting_for else self._feed.position
                        yield FeedHeartbeat(position, datetime.now(UTC))
                    continue
                if isinstance(event, _End):
                    return
                if isinstance(event, Mark):
                    if event.mark_id == waiting_for:
                        waiting_for = None  # from here on the shared stream is new to us
                    continue
                if waiting_for is not None:
                    continue  # the catch-up delivered it already
                if isinstance(event, Dropped):
                    yield FeedStartOver(event.token, _DROPPED)
                else:
                    yield event
        finally:
            await self.close()

    async def close(self) -> None:
        """Leaves the feed (idempotent); the transport calls it however the stream ended."""
        self._feed.unregister(self)
        stream, self._catch_up = self._catch_up, None
        if stream is not None:
            await stream.close()

    async def _caught_up(self, stream: AsyncChangeStream[Document]) -> AsyncIterator[FeedMessage]:
        """The catch-up stream's changes, up to this subscription's mark."""
        decode = self._feed.streams.decode
        while True:
            raw = await stream.try_next()
            if raw is None:
                continue
            event = decode(raw)
            if isinstance(event, Mark):
                if event.mark_id == self._mark:
                    self._position = event.token
                    return
                continue
            if isinstance(event, Dropped):
                yield FeedStartOver(event.token, _DROPPED)
            elif isinstance(event, CatalogChange) and event.tenant_id == self.tenant_id:
                yield event


class FeedMetrics:
    def __init__(self, registry: CollectorRegistry, feed: CatalogFeed) -> None:
        self.changes = Counter(
            "catalog_feed_changes", "Catalog changes read from the database, by kind.",
            ["kind"], registry=registry,
        )  # fmt: skip
        self.cut_offs = Counter(
            "catalog_feed_cut_offs", "Subscribers cut off for falling behind.", registry=registry
        )
        self.subscriptions = Counter(
            "catalog_feed_subscriptions",
            "Subscriptions opened: from now, resumed from a token, or told to start over.",
            ["start"],
            registry=registry,
        )
        self.reopens = Counter(
            "catalog_feed_reader_reopens",
            "Times the reader's change stream broke and was opened again.",
            registry=registry,
        )
        subscribers = Gauge(
            "catalog_feed_subscribers", "Subscribers connected now.", registry=registry
        )
        subscribers.set_function(lambda: feed.subscriber_count)
        up = Gauge(
            "catalog_feed_reader_up", "1 while the reader follows the database.", registry=registry
        )
        up.set_function(lambda: 1.0 if feed.up else 0.0)


class CatalogFeed:
    def __init__(
        self,
        streams: ChangeStreams,
        tenants: TenantService,
        invalidate: Invalidate,
        invalidate_all: InvalidateAll,
        settings: FeedSettings,
        registry: CollectorRegistry,
    ) -> None:
        self.streams = streams
        self.settings = settings
        self.metrics = FeedMetrics(registry, self)
        self.up = False
        self.position = ""
        """The reader's token: every change up to it has been offered to the subscribers."""
        self._tenants = tenants
        self._invalidate = invalidate
        self._invalidate_all = invalidate_all
        self._subscribers: dict[str, set[Subscription]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self._draining = False

    @property
    def subscriber_count(self) -> int:
        return sum(len(group) for group in self._subscribers.values())

    async def start(self, within_seconds: float) -> None:
        """Starts the reader; waits (at most `within_seconds`) for its stream to open, so a
        process that answers lookups also publishes their changes."""
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="catalog feed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_seconds):
                await self._started.wait()
        if not self.up:
            _log.warning("catalog feed: the change stream is not open yet; trying on")

    def drain(self) -> None:
        """Ends every subscription (their clients reconnect elsewhere); refuses new ones."""
        self._draining = True
        for group in list(self._subscribers.values()):
            for subscription in list(group):
                subscription.offer(_END)

    async def close(self) -> None:
        self.drain()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def open(self, tenant_id: str, token: str | None) -> Subscription:
        """A subscription of the tenant's changes from now, or after `token`.

        Everything that can refuse it is decided here, before a first message: a draining
        process (503 SHUTTING_DOWN), an unknown tenant (404), a token that is not one (422),
        the database (503).
        """
        if self._draining:
            raise FeedClosedError("master-data is shutting down; reconnect to another replica.")
        await self._tenants.require(tenant_id)
        if not self.up:
            raise DatabaseUnavailableError("The catalog feed cannot read the database now.")
        subscription = Subscription(self, tenant_id, self.position)
        self._subscribers.setdefault(tenant_id, set()).add(subscription)
        try:
            if token is None:
                start = "now"
            else:
                start = await self._resume(subscription, token)
        except BaseException:
            self.unregister(subscription)
            raise
        self.metrics.subscriptions.labels(start).inc()
        return subscription

    async def _resume(self, subscription: Subscription, token: str) -> str:
        try:
            stream = await self.streams.open(subscription.tenant_id, token)
        except HistoryLostError:
            subscription._start_over = _HISTORY_LOST
            return "start_over"
        try:
            # Registered before the mark is written: the shared stream will offer it to us.
            subscription._mark = await self.streams.put_mark(subscription.tenant_id)
        except BaseException:
            await stream.close()
            raise
        subscription._catch_up = stream
        return "resumed"

    def unregister(self, subscription: Subscription) -> None:
        group = self._subscribers.get(subscription.tenant_id)
        if group is not None:
            group.discard(subscription)
            if not group:
                del self._subscribers[subscription.tenant_id]

    def _offer(self, tenant_id: str, event: StreamEvent | _End) -> None:
        for subscription in list(self._subscribers.get(tenant_id, ())):
            subscription.offer(event)

    async def _read(self) -> None:
        while True:
            try:
                async with await self.streams.open(None, self.position or None) as stream:
                    self._opened(token_of(stream.resume_token))
                    while True:
                        raw = await stream.try_next()
                        if raw is not None:
                            self._dispatch(self.streams.decode(raw))
                            # The event's own token, not the stream's: the driver deep-copies
                            # that one on every read, the reader's largest cost in a bulk
                            # import. Between events (an empty batch) the stream's is newer.
                            self.position = token_of(raw["_id"])
                        else:
                            self.position = token_of(stream.resume_token)
                        # A batch is served from memory without a pause: let the subscribers
                        # take each change before the next, so a burst (a bulk import) cuts
                        # off only those that do not keep up.
                        await asyncio.sleep(0)
            except HistoryLostError:
                _log.error("catalog feed: the reader's position is gone; everyone starts over")
                self.position = ""
                self._start_everyone_over()
            except (PyMongoError, DatabaseUnavailableError, ValueError) as exc:
                if self.up:
                    _log.warning("catalog feed: the change stream broke (%s); reopening", exc)
                self.up = False
                self.metrics.reopens.inc()
                await asyncio.sleep(self.settings.reopen_backoff_seconds)

    def _opened(self, position: str) -> None:
        if not self.position:
            self.position = position
        if not self.up:
            _log.info("catalog feed: following the database's change stream")
        self.up = True
        self._started.set()

    def _dispatch(self, event: StreamEvent | None) -> None:
        if event is None:
            return
        if isinstance(event, CatalogChange):
            self.metrics.changes.labels(event.kind).inc()
        if not isinstance(event, Mark):
            self._invalidate(event.tenant_id)
        self._offer(event.tenant_id, event)

    def _start_everyone_over(self) -> None:
        """The reader lost its place: every cache starts over, and every subscriber
        reconnects (and starts over too unless its own token can still be resumed from)."""
        self._invalidate_all()
        for tenant_id in list(self._subscribers):
            self._offer(tenant_id, _END)
