"""Server-Sent Events read from an aiohttp response, as the WHATWG spec parses them.

Hand-written (about thirty lines): the maintained SSE clients are for httpx (httpx-sse) or
browsers; aiohttp has none of its own, and the stream cart reads is master-data's, whose
events are small (a line of JSON each). Lines beyond aiohttp's line limit are refused by
aiohttp itself (a malformed stream).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: str
    id: str | None
    """The last `id:` seen in the stream so far (the spec's "last event ID")."""


async def sse_events(lines: AsyncIterable[bytes]) -> AsyncIterator[SseEvent]:
    """The events of a text/event-stream, one per blank-line-terminated block with data."""
    event, last_id = "", None
    data: list[str] = []
    async for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield SseEvent(event or "message", "\n".join(data), last_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue  # a comment (keep-alive)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            last_id = value
