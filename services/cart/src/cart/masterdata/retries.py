"""One retry loop for both transports: a lookup is tried again only when master-data did not
do it (`Failure.UNAVAILABLE`: refused, reset, a server going away), within one time budget.

The budget is the transport's (HTTP_TIMEOUT, GRPC_TIMEOUT) or what is left of the request's
own (`pos_commons.deadlines`), whichever ends first, and it bounds the whole lookup: every
attempt, the first included, gets only what is left of it, waiting for a pooled connection
included. Lookups are reads, so repeating one is always safe; nothing else is ever retried (a
timeout is not: the budget is spent, and the server may still be working). The schedule is
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

from cart.masterdata.failures import MasterDataCallError, too_slow
from cart.retrying import retry_after
from pos_commons import deadlines
from pos_commons.transport import Transport

T = TypeVar("T")

# An attempt with less time than this left is not worth starting.
_MIN_ATTEMPT_SECONDS = 0.01

Attempt = Callable[[float], Awaitable[T]]
"""One try at a lookup, given the seconds it may take in all. Raises MasterDataCallError when
it fails."""


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
        budget = min(self.budget_seconds, deadlines.remaining())
        if budget < _MIN_ATTEMPT_SECONDS:
            failure = too_slow("the request's budget was spent before master-data was asked")
            raise failure.to_error(self.transport) from failure
        deadline = time.monotonic() + budget
        try:
            return await attempt(budget)
        except MasterDataCallError as failure:
            if not failure.retried or self._policy.max_attempts < 2:
                raise failure.to_error(self.transport) from failure
            first_failure = failure
        try:
            return await self._retry(attempt, deadline, first_failure)
        except MasterDataCallError as failure:
            raise failure.to_error(self.transport) from failure

    async def _retry(self, attempt: Attempt[T], deadline: float, failure: Exception) -> T:
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
        return await retry_after(
            failure,
            retrying,
            lambda: attempt(max(deadline - time.monotonic(), _MIN_ATTEMPT_SECONDS)),
        )
