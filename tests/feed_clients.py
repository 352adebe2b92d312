"""Test clients of master-data's catalog feed, over SSE and gRPC, that read the raw wire and
put each message in one plain form (so the two transports can be compared message by
message): {"type": "change" | "heartbeat" | "startOver", "token", and for a change "kind",
"key", "deleted", "value"}."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
from google.protobuf.json_format import MessageToDict
from grpc import aio

from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    catalog_feed_service_pb2,
    catalog_feed_service_pb2_grpc,
)

_KIND_NAMES = {
    "CATALOG_CHANGE_KIND_ITEM": "item",
    "CATALOG_CHANGE_KIND_STORE_PRICE": "storePrice",
    "CATALOG_CHANGE_KIND_TAX_RULE": "taxRule",
    "CATALOG_CHANGE_KIND_PAYMENT_METHOD": "paymentMethod",
    "CATALOG_CHANGE_KIND_STORE": "store",
}
_TYPES = {"heartbeat": "heartbeat", "start_over": "startOver", "change": "change"}


async def sse_feed(
    url: str, token: str, tenant_id: str, last_event_id: str | None = None
) -> AsyncGenerator[dict[str, Any], None]:
    headers = {"Authorization": f"Bearer {token}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with (
        httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30, read=None)) as client,
        client.stream("GET", f"/api/v1/tenants/{tenant_id}/catalogFeed", headers=headers) as r,
    ):
        assert r.status_code == 200, await r.aread()
        event, data, last_id = "", "", None
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line.startswith("id: "):
                last_id = line[4:]
            elif not line and data:
                body = json.loads(data)
                message: dict[str, Any] = {"type": event, "token": last_id}
                if event == "change":
                    message.update(
                        kind=body["kind"], key=body["key"], deleted=body["deleted"],
                        value=body["value"],
                    )  # fmt: skip
                yield message
                event, data = "", ""


async def grpc_feed(
    channel: aio.Channel, token: str, tenant_id: str, resume_token: str = ""
) -> AsyncGenerator[dict[str, Any], None]:
    stub = catalog_feed_service_pb2_grpc.CatalogFeedServiceStub(channel)
    call = stub.WatchCatalog(
        catalog_feed_service_pb2.WatchCatalogRequest(
            tenant_id=tenant_id, resume_token=resume_token
        ),
        metadata=(("authorization", f"Bearer {token}"),),
    )
    try:
        async for response in call:
            kind = response.WhichOneof("message")
            assert kind is not None
            message: dict[str, Any] = {"type": _TYPES[kind], "token": response.token}
            if kind == "change":
                change = response.change
                which = change.WhichOneof("value")
                value = (
                    None
                    if which is None
                    else MessageToDict(
                        getattr(change, which), always_print_fields_with_no_presence=True
                    )
                )
                key = MessageToDict(change.key)
                message.update(
                    kind=_KIND_NAMES[catalog_feed_service_pb2.CatalogChangeKind.Name(change.kind)],
                    key=key, deleted=change.deleted, value=value,
                )  # fmt: skip
            yield message
    finally:
        call.cancel()


async def until_caught_up(messages: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages before the first heartbeat (a catch-up), the heartbeat last."""
    taken = []
    async for message in messages:
        taken.append(message)
        if message["type"] == "heartbeat":
            return taken
    raise AssertionError(f"the stream ended before a heartbeat: {taken}")
