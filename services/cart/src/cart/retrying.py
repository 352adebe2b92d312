"""Retries that begin after a first attempt made outside tenacity.

The first attempt of a call is a plain await: most calls succeed at once, and tenacity's
machinery (its cost: docs/performance.md) is then paid only by the
calls that failed. Those continue here, the failed attempt counted as tenacity's first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying

T = TypeVar("T")


async def retry_after(
    failure: BaseException, retrying: AsyncRetrying, attempt: Callable[[], Awaitable[T]]
) -> T:
    """`attempt()` under `retrying`, counting `failure` as its try already made: tenacity
    decides on it (retry or not, its pause) before the second."""
    tries = 0

    async def next_try() -> T:
        nonlocal tries
        tries += 1
        if tries == 1:
            raise failure
        return await attempt()

    result: T = await retrying(next_try)
    return result
