"""One retry loop for both transports: a lookup is tried again only when master-data did not
do it (`Failure.UNAVAILABLE`: refused, reset, a server going away), within one time budget.

Lookups are reads, so repeating one is always safe; nothing else is ever retried (a timeout
is not: the budget is spent, and the server may still be working). The schedule is
tenacity's: full-jitter exponential backoff, at most `max_attempts` in all, and no attempt
started that could not finish before the budget ends. The first attempt is a plain call:
tenacity's machinery costs about 47 us a call even when nothing fails (measured), which the
hot path does not pay.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from cart.masterdata.failures import MasterDataCallError
from pos_commons.transport import Transport

T = TypeVar("T")

# An attempt with less time than this left is not worth starting.
_MIN_ATTEMPT_SECONDS = 0.01

Attempt = Callable[[float | None], Awaitable[T]]
"""One try at a lookup, given the seconds it may take (None: the whole budget, which the
transport's own client timeouts already bound). Raises MasterDataCallError when it fails."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    initial_backoff_seconds: float = 0.05
    max_backoff_seconds: float = 0.5


def _retried(exc: BaseException) -> bool:
    return isinstance(exc, MasterDataCallError) and exc.retried


class Retrier:
    def __init__(self, transport: Transport, budget_seconds: float, policy: RetryPolicy) -> None:
        self.transport = transport
        self.budget_seconds = budget_seconds
        self._policy = policy

    async def call(self, attempt: Attempt[T]) -> T:
        """`attempt`'s result; or the AppError its failure means (FAILURES), after retries."""
        started = time.monotonic()
        try:
            return await attempt(None)
        except MasterDataCallError as failure:
            if not failure.retried or self._policy.max_attempts < 2:
                raise failure.to_error(self.transport) from failure
            first_failure = failure
        try:
            return await self._retry(attempt, started, first_failure)
        except MasterDataCallError as failure:
            raise failure.to_error(self.transport) from failure

    async def _retry(self, attempt: Attempt[T], started: float, failure: Exception) -> T:
        deadline = started + self.budget_seconds
        policy = self._policy
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retried),
            stop=stop_after_attempt(policy.max_attempts)
            | stop_before_delay(deadline - time.monotonic() - _MIN_ATTEMPT_SECONDS),
            wait=wait_random_exponential(
                multiplier=policy.initial_backoff_seconds, max=policy.max_backoff_seconds
            ),
            reraise=True,
        )
        tries = 0

        async def next_try() -> T:
            nonlocal tries
            tries += 1
            if tries == 1:
                # The attempt already made: tenacity counts it and waits before the next one.
                raise failure
            return await attempt(max(deadline - time.monotonic(), _MIN_ATTEMPT_SECONDS))

        result: T = await retrying(next_try)
        return result
