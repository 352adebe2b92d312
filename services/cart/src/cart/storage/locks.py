"""Per-cart asyncio locks that disappear when nobody holds or waits for them, with a bounded
line of waiters.

A terminal has one change of its cart in flight; a line behind a cart's lock means retries
piling up behind a slow one (a slow database, a slow master-data). Each waiter would wait out
its request's budget and keep its place among the process's requests meanwhile, so the line
is bounded: past `max_waiters` a change is refused at once, and a waiter gives up when its
request's budget (contention.budget) is spent. Both answer 503 CART_BUSY: nothing was
changed, and a retry with the same Idempotency-Key is safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from cart.storage.contention import budget
from pos_commons.errors import ServiceUnavailableError


class CartBusyError(ServiceUnavailableError):
    default_code = "CART_BUSY"


@dataclass
class _Line:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    """Holding or waiting: the line goes when nobody is left."""
    waiting: int = 0


class KeyedLocks:
    def __init__(self, max_waiters: int) -> None:
        self._lines: dict[str, _Line] = {}
        self._max_waiters = max_waiters

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Holds `key`'s lock; CartBusyError when `max_waiters` wait for it already, or when
        the budget ends before it is free."""
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = _Line()
        elif line.waiting >= self._max_waiters:
            raise CartBusyError(
                f"{line.waiting} changes of this cart are waiting already; try again.",
                details={"cartId": key},
            )
        line.users += 1
        try:
            if line.lock.locked() or line.waiting:
                # Held, or just released to a waiter that has yet to take it: in line.
                await self._wait_for(line, key)
            else:
                # Free and nobody in line: taken at once, without a timer (the usual case:
                # one terminal, one change of its cart at a time).
                await line.lock.acquire()
            try:
                yield
            finally:
                line.lock.release()
        finally:
            line.users -= 1
            if not line.users:
                del self._lines[key]

    async def _wait_for(self, line: _Line, key: str) -> None:
        line.waiting += 1
        try:
            async with asyncio.timeout(budget()):
                await line.lock.acquire()
        except TimeoutError:
            raise CartBusyError(
                "The cart was busy with other changes for as long as this request could "
                "wait; nothing was changed: try again.",
                details={"cartId": key},
            ) from None
        finally:
            line.waiting -= 1

    def __len__(self) -> int:
        return len(self._lines)
