"""The catalog feed over HTTP: Server-Sent Events, resumable with the standard Last-Event-ID.

The same messages as gRPC's CatalogFeedService.WatchCatalog, in the same order from the same
token (services/catalog_feed.py). Each is one SSE event whose `id` is its token:

    event: change       data: {"kind", "key", "deleted", "value", "changedAt"}
    event: heartbeat    data: {"sentAt"}
    event: startOver    data: {"reason"}

Everything that refuses a subscription (token, tenant, credentials, a draining process) is
answered before the stream starts, as the usual error envelope with its status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic.alias_generators import to_camel
from pymongo.errors import PyMongoError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from master_data.api.deps import Resources, TenantPath
from master_data.domain import CatalogChange, FeedHeartbeat, FeedMessage
from master_data.identifiers import check_resume_token
from master_data.services.catalog_feed import Subscription
from pos_commons.auth import require_reader
from pos_commons.envelope import to_wire
from pos_commons.openapi import error_responses
from pos_commons.service_app import ServiceRouter
from pos_commons.validation import RESUME_TOKEN_REGEX

_log = logging.getLogger(__name__)

router = ServiceRouter(prefix="/api/v1/tenants/{tenant_id}", tags=["catalog feed"])

RETRY_MILLISECONDS = 1000
"""The reconnection delay an EventSource client is told (`retry:`)."""


def change_data(change: CatalogChange) -> dict[str, Any]:
    """A change's JSON, as the `data` of its SSE event (and in the docs)."""
    return {
        "kind": change.kind.value,
        "key": {to_camel(field): value for field, value in change.key.items()},
        "deleted": change.deleted,
        "value": None if change.value is None else to_wire(change.value),
        "changedAt": change.changed_at.isoformat(),
    }


def _sse_change(change: CatalogChange) -> bytes:
    data = orjson.dumps(change_data(change)).decode()
    return format_sse_event(data_str=data, event="change", id=change.token)


def encode(message: FeedMessage) -> bytes:
    if isinstance(message, CatalogChange):
        return message.memo("sse", _sse_change)  # the same bytes for every subscriber
    if isinstance(message, FeedHeartbeat):
        data = orjson.dumps({"sentAt": message.sent_at.isoformat()}).decode()
        return format_sse_event(data_str=data, event="heartbeat", id=message.token)
    data = orjson.dumps({"reason": message.reason}).decode()
    return format_sse_event(data_str=data, event="startOver", id=message.token)


class EventStream(Response):
    """Streams a subscription as text/event-stream, in the request's own task.

    The task is cancelled when the client goes away (watched on `receive`) or when the
    subscriber falls behind (Subscription.offer): either ends the response; a cut-off
    subscriber's connection is then closed by the server without finishing the response.
    """

    media_type = EventSourceResponse.media_type

    def __init__(self, subscription: Subscription) -> None:
        super().__init__(
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
            media_type=self.media_type,
        )
        # A stream has no length (Response would announce the empty body's 0).
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self._subscription = subscription

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        client_gone = False

        async def watch_disconnect() -> None:
            nonlocal client_gone
            while (await receive())["type"] != "http.disconnect":
                pass
            client_gone = True
            task.cancel()

        watcher = asyncio.get_running_loop().create_task(watch_disconnect())
        subscription = self._subscription
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send(_body(f"retry: {RETRY_MILLISECONDS}\n\n".encode()))
            async with contextlib.aclosing(subscription.messages()) as messages:
                async for message in messages:
                    await send(_body(encode(message)))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not (client_gone or subscription.cut_off):
                raise
            task.uncancel()
        except PyMongoError as exc:
            _log.warning("catalog feed over HTTP ended by the database: %s", exc)
        finally:
            watcher.cancel()
            await subscription.close()


def _body(chunk: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": chunk, "more_body": True}


_EVENT_SCHEMA = {
    "type": "object",
    "description": "One Server-Sent Event: `event` is change, heartbeat or startOver; `id` is "
    "its token; `data` is JSON (see docs/api.md).",
    "properties": {
        "event": {"type": "string", "enum": ["change", "heartbeat", "startOver"]},
        "id": {"type": "string", "pattern": RESUME_TOKEN_REGEX},
        "data": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


FEED_PATH = "/catalogFeed"


def is_feed_path(path: str) -> bool:
    """A feed subscription lasts as long as its subscriber: it takes no turn of the bounded
    request admission and has no request budget."""
    return path.endswith(FEED_PATH)


@router.get(
    FEED_PATH,
    # Not FastAPI's EventSourceResponse, which wants a generator endpoint: the subscription
    # is opened (and refused) before the stream starts, then EventStream streams it.
    response_class=Response,
    dependencies=[Depends(require_reader)],
    name="watch_catalog",
    summary="The tenant's catalog changes as Server-Sent Events",
    description=(
        "Changes of items, store prices, tax rules, payment methods and stores, as MongoDB "
        "applies them, then a heartbeat when caught up and every few seconds while nothing "
        "changes. Reconnect with the last event's id as `Last-Event-ID` to get everything "
        "after it, from any replica; a `startOver` event means that history is gone."
    ),
    responses={
        200: {
            "description": "The stream of events.",
            "content": {"text/event-stream": {"schema": _EVENT_SCHEMA}},
        },
        **error_responses(
            401, 404, 422, 503, 504,
            s404="TENANT_NOT_FOUND",
            s422="INVALID_TENANT_ID or INVALID_RESUME_TOKEN",
            s503="SHUTTING_DOWN or DATABASE_UNAVAILABLE",
        ),
    },
)  # fmt: skip
async def watch_catalog(
    tenant_id: TenantPath,
    resources: Resources,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="The id of the last event applied: resume after it.",
            json_schema_extra={"pattern": RESUME_TOKEN_REGEX},
        ),
    ] = None,
) -> Response:
    token = None if last_event_id is None else check_resume_token(last_event_id)
    subscription = await resources.feed.open(tenant_id, token)
    return EventStream(subscription)
