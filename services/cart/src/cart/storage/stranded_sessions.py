"""Transactions that a bill or cancel gave up on, aborted in the database instead of left open.

A transaction that ends in a timeout or a lost connection can still be open on the server:
its first commands may reach the database after cart stopped waiting (a stalled disk, a slow
network), and then nothing commits or aborts it. Until the server's transaction lifetime ends
it (60 s in MongoDB and SecantusDB), it holds what it wrote, the cart and the terminal's
receipt counter, and every bill of that terminal fails on a write conflict for a minute after
the database came back. The driver discards such a session and never uses it again; this
sends `killSessions` for it (which aborts its transaction), in the background, until two
kills a pause apart have been answered: the second catches commands of the session that were
still queued in the database when the first one ran.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Mapping
from typing import Any

import pymongo
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

_log = logging.getLogger(__name__)

KILLS_ANSWERED = 2
PAUSE_SECONDS = 1.0
GIVE_UP_SECONDS = 60.0
"""The server's own transaction lifetime: past it the transaction is gone anyway."""


class StrandedSessions:
    """Kills, in the background, the server sessions whose transaction may be left open."""

    def __init__(self, client: AsyncMongoClient[Any], attempt_timeout_seconds: float) -> None:
        self._client = client
        self._attempt_timeout = attempt_timeout_seconds
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, session_id: Mapping[str, Any]) -> None:
        # A context of its own: the request's (its spent operation deadline, its budget) must
        # not bound the kills.
        task = asyncio.get_running_loop().create_task(
            self._kill(dict(session_id)), context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def _kill(self, session_id: dict[str, Any]) -> None:
        ends = time.monotonic() + GIVE_UP_SECONDS
        answered = 0
        while answered < KILLS_ANSWERED and time.monotonic() < ends:
            try:
                with pymongo.timeout(self._attempt_timeout):
                    await self._client.admin.command("killSessions", [session_id])
                answered += 1
            except PyMongoError as exc:
                _log.info("a session left open by a bill or cancel is not killed yet: %s", exc)
            if answered < KILLS_ANSWERED:
                await asyncio.sleep(PAUSE_SECONDS)
        if answered < KILLS_ANSWERED:
            _log.warning("gave up killing a session; the database ends its transaction itself")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
