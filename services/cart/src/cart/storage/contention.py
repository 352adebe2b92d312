"""How long a change of a cart keeps trying when others change the same cart: until its
request's deadline (pos_commons.deadlines), never a fixed number of times.

Two waits end there: the wait for this process's lock of the cart (locks.py) and the retries
of a version race lost to another process. A count of retries was the wrong bound: while one
replica holds a queue of changes of a cart, each of them writes from its cart cache at once,
and the other replica's change loses race after race until that queue drains (16 attempts
lost 1 add of 100 in half the rounds of a two-replica drill). The deadline is what the
caller waits for anyway; a change that meets it has done nothing, and answers 409
CART_CONFLICT, which a retry with the same Idempotency-Key may repeat safely.

Outside a request (no deadline) MAX_WAIT_SECONDS bounds both, so nothing waits forever.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_before_delay
from tenacity import wait_random_exponential as _full_jitter

from cart.retrying import retry_after
from pos_commons import deadlines
from pos_commons.errors import ConflictError

T = TypeVar("T")

MAX_WAIT_SECONDS = 30.0
"""The longest a change waits for its cart when no request deadline bounds it: generous,
since a request's own budget (REQUEST_TIMEOUT_SECONDS, 10 s by default) ends it sooner."""

PAUSES = _full_jitter(multiplier=0.001, max=0.02)
"""The pause before retry n: uniform in [0, min(20 ms, 1 ms x 2^(n-1))], so two writers
drift apart; short, since a long pause only hands the cart to the other writer's next
change, and capped, since the deadline (not the pauses) decides when to stop."""


class VersionConflictError(Exception):
    """The cart changed since it was read (its compare-and-swap failed)."""


class CartConflictError(ConflictError):
    default_code = "CART_CONFLICT"


def budget() -> float:
    """Seconds a change may still wait for its cart from now: the request's, capped."""
    return min(deadlines.remaining(), MAX_WAIT_SECONDS)


async def retried(attempt: Callable[[bool], Awaitable[T]]) -> T:
    """`attempt(again)`'s result, trying again (`again=True`: read the cart afresh) after
    each VersionConflictError, with a jittered pause, until the budget would end before the
    next try: then 409 CART_CONFLICT. Anything else `attempt` raises propagates at once.

    The first attempt is a plain call (cart.retrying): only a change that lost a
    race pays for tenacity.
    """
    try:
        return await attempt(False)
    except VersionConflictError as conflict:
        first_conflict = conflict
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(VersionConflictError),
        stop=stop_before_delay(budget()),
        wait=PAUSES,
        reraise=True,
    )
    try:
        result: T = await retry_after(first_conflict, retrying, lambda: attempt(True))
    except VersionConflictError:
        raise CartConflictError(
            "The cart was being changed elsewhere for as long as this request could wait; "
            "nothing was changed: try again."
        ) from None
    return result
