"""Tracing of cart's master data, when tracing is on (pos_commons.tracing); nothing here is
built otherwise (factory.py).

The instrumentations give the hop itself: a client span per attempt (aiohttp's, or
grpc.aio's interceptor) that carries the trace context to master-data, whose server span
continues it. By hand, what no instrumentation sees:

- `lookup <operation>` around each lookup a request makes while the item cache is on:
  `pos.item_cache` is `hit` when the cache answered it (no call), `miss` when master-data
  was asked;
- `masterdata <operation>` around each call that goes to master-data, retries included, with
  `pos.masterdata.transport` (`http` or `grpc`): the client spans of its attempts are its
  children;
- `catalog feed apply` (a consumer span, a trace of its own) for each catalog change the feed
  brings and cart applies to its cache. The feed's stream itself is not traced: it lasts as
  long as the subscription. The change does not carry the trace of the write that made it,
  so the two are not linked.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

import aiohttp
from opentelemetry import context, trace

from cart.masterdata.feed.changes import CatalogChange, FeedMessage
from cart.masterdata.repository import ForwardingRepository, MasterDataRepository
from pos_commons.tracing import Tracing
from pos_commons.transport import Transport

T = TypeVar("T")

ITEM_CACHE = "pos.item_cache"
TRANSPORT = "pos.masterdata.transport"
TENANT = "pos.tenant_id"

Watch = Callable[[str, str | None], AsyncGenerator[FeedMessage, None]]


def aiohttp_trace_configs(tracing: Tracing | None) -> list[aiohttp.TraceConfig]:
    """What an aiohttp session to master-data traces with: a client span per request, its
    trace context in the request's headers."""
    if tracing is None:
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config

    return [create_trace_config(tracer_provider=tracing.provider)]


class _TracedRepository(ForwardingRepository):
    """A span `<name> <operation>` around each lookup of `inner`."""

    name = ""

    def __init__(self, inner: MasterDataRepository, tracing: Tracing) -> None:
        super().__init__(inner)
        self._tracer = tracing.tracer(__name__)

    def _attributes(self) -> dict[str, str]:
        return {}

    async def around(self, operation: str, tenant_id: str, call: Callable[[], Awaitable[T]]) -> T:
        with self._tracer.start_as_current_span(
            f"{self.name} {operation}", attributes={**self._attributes(), TENANT: tenant_id}
        ):
            return await call()


class TracedCalls(_TracedRepository):
    """`masterdata <operation>` around each call of `inner` (the calls that reach master-data),
    with the transport. `behind_cache`: each call serves a lookup of TracedLookups (the item
    cache is on), which it marks as a miss."""

    name = "masterdata"

    def __init__(self, inner: MasterDataRepository, tracing: Tracing, behind_cache: bool) -> None:
        super().__init__(inner, tracing)
        self._behind_cache = behind_cache

    def _attributes(self) -> dict[str, str]:
        if self._behind_cache:
            trace.get_current_span().set_attribute(ITEM_CACHE, "miss")
        return {TRANSPORT: self.transport.value}


class TracedLookups(_TracedRepository):
    """`lookup <operation>` around each lookup of `inner` (the item cache in front of
    master-data): a hit unless TracedCalls, further in, says master-data was asked."""

    name = "lookup"

    def _attributes(self) -> dict[str, str]:
        return {ITEM_CACHE: "hit"}


def traced_watch(watch: Watch, tracing: Tracing, transport: Transport) -> Watch:
    """`watch` with a `catalog feed apply` span around each change it yields."""
    tracer = tracing.tracer(__name__)

    async def messages(tenant_id: str, token: str | None) -> AsyncGenerator[FeedMessage, None]:
        async for message in watch(tenant_id, token):
            if not isinstance(message, CatalogChange):
                yield message
                continue
            span = tracer.start_span(
                "catalog feed apply",
                context=context.Context(),  # a trace of its own: no request caused it
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    TENANT: tenant_id,
                    TRANSPORT: transport.value,
                    "pos.catalog.kind": message.kind.value,
                    "pos.catalog.key": ",".join(f"{k}={v}" for k, v in message.key.items()),
                    "pos.catalog.deleted": message.value is None,
                },
            )
            # The follower applies a message before it asks for the next one, in the same
            # task: the span is current (its log lines carry its ids) from here until then.
            attached = context.attach(trace.set_span_in_context(span))
            try:
                yield message
            finally:
                context.detach(attached)
                span.end()

    return messages
