"""The Server-Sent Events reader cart uses for master-data's catalog feed
(cart/masterdata/feed/sse.py, http_adapter.py), on the framings the spec allows; master-data's
own stream is read by the process tests (tests/cart/test_catalog_feed.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cart.masterdata.feed.changes import CatalogChange, ChangeKind, Heartbeat, StartOver
from cart.masterdata.feed.sse import SseEvent, sse_events
from cart.masterdata.http_adapter import feed_message_from_sse


async def _lines(text: bytes) -> AsyncIterator[bytes]:
    for line in text.splitlines(keepends=True):
        yield line


async def _events(text: bytes) -> list[SseEvent]:
    return [event async for event in sse_events(_lines(text))]


async def test_events_comments_multi_line_data_and_crlf() -> None:
    stream = (
        b"retry: 1000\n\n"
        b": keep-alive\n\n"
        b"event: heartbeat\r\ndata: {}\r\nid: 0a\r\n\r\n"
        b"data:one\ndata: two\n\n"
        b"id: 0b\nevent: change\ndata: x\n\n"
    )
    assert await _events(stream) == [
        SseEvent("heartbeat", "{}", "0a"),
        SseEvent("message", "one\ntwo", "0a"),  # the last id carries over
        SseEvent("change", "x", "0b"),
    ]


async def test_an_unfinished_event_is_not_delivered() -> None:
    assert await _events(b"event: change\ndata: x\n") == []


def test_feed_messages_from_their_events() -> None:
    data = (
        '{"kind":"storePrice","key":{"storeCode":"S1","itemCode":"A"},"deleted":false,'
        '"value":{"storeCode":"S1","itemCode":"A","price":"0","createdAt":"x","updatedAt":"x"},'
        '"changedAt":"2026-12-04T10:00:00+00:00"}'
    )
    change = feed_message_from_sse("change", data, "0c")
    assert isinstance(change, CatalogChange)
    assert change.kind is ChangeKind.STORE_PRICE
    assert change.key == {"store_code": "S1", "item_code": "A"}
    assert change.value is not None
    assert str(getattr(change.value, "price", None)) == "0"
    deleted = data.replace('"deleted":false', '"deleted":true')
    assert feed_message_from_sse("change", deleted, "0d").value is None  # type: ignore[union-attr]
    assert feed_message_from_sse("heartbeat", "{}", "0e") == Heartbeat("0e")
    assert feed_message_from_sse("startOver", '{"reason":"r"}', "0f") == StartOver("0f", "r")


@pytest.mark.parametrize(
    ("event", "data", "token"),
    [
        ("heartbeat", "{}", None),
        ("surprise", "{}", "0a"),
        ("change", '{"kind":"planet"}', "0a"),
        ("change", "not json", "0a"),
    ],
)
def test_malformed_feed_events_are_refused(event: str, data: str, token: str | None) -> None:
    with pytest.raises((KeyError, ValueError)):
        feed_message_from_sse(event, data, token)
