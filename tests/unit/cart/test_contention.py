"""How a change waits for a cart others are changing (cart/storage/contention.py, locks.py),
in isolation: version races retried until the request's deadline, not a count; the per-cart
lock's line bounded, and left when the request's budget ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

import pytest
from tenacity import AsyncRetrying, RetryCallState

from cart.storage.contention import (
    MAX_WAIT_SECONDS,
    PAUSES,
    CartConflictError,
    VersionConflictError,
    budget,
    retried,
)
from cart.storage.locks import CartBusyError, KeyedLocks
from pos_commons import deadlines
from pos_commons.errors import NotFoundError

T = TypeVar("T")


async def _within(seconds: float, work: Awaitable[T]) -> T:
    """`work`, run as a request with a budget of `seconds` (in a task of its own, so the
    budget stays there)."""

    async def request() -> T:
        deadlines.start(seconds)
        return await work

    return await asyncio.create_task(request())


class _Races:
    """An attempt that loses `losses` races, then writes."""

    def __init__(self, losses: float) -> None:
        self.losses = losses
        self.calls: list[bool] = []

    async def __call__(self, again: bool) -> str:
        self.calls.append(again)
        if len(self.calls) <= self.losses:
            raise VersionConflictError
        return "written"


async def test_races_are_retried_until_the_deadline_not_a_count() -> None:
    races = _Races(float("inf"))
    started = time.monotonic()
    with pytest.raises(CartConflictError) as refused:
        await _within(0.5, retried(races))
    elapsed = time.monotonic() - started
    assert refused.value.status_code == 409
    assert refused.value.code == "CART_CONFLICT"
    # Pauses are at most 20 ms: 0.5 s holds at least 25 tries (the old count was 16).
    assert len(races.calls) > 25
    assert races.calls == [False] + [True] * (len(races.calls) - 1)
    # It stops before a pause would end past the deadline, and not much earlier.
    assert 0.45 <= elapsed < 0.5 + 1.0


async def test_a_change_that_loses_many_races_lands_when_they_stop() -> None:
    races = _Races(40)
    assert await _within(10, retried(races)) == "written"
    assert len(races.calls) == 41


async def test_a_spent_budget_answers_the_conflict_without_another_try() -> None:
    races = _Races(float("inf"))
    with pytest.raises(CartConflictError):
        await _within(-1, retried(races))
    assert races.calls == [False]


async def test_a_refusal_is_not_retried() -> None:
    calls: list[bool] = []

    async def refused(again: bool) -> str:
        calls.append(again)
        if not again:
            raise VersionConflictError
        raise NotFoundError("gone", code="CART_NOT_FOUND")

    with pytest.raises(NotFoundError):
        await _within(10, retried(refused))
    assert calls == [False, True]


async def test_outside_a_request_the_wait_is_capped() -> None:
    assert budget() == MAX_WAIT_SECONDS
    assert 0 < await _within(2, _budget()) <= 2


async def _budget() -> float:
    return budget()


def test_pauses_are_jittered_growing_and_capped() -> None:
    state = RetryCallState(AsyncRetrying(), None, (), {})
    for retry in range(1, 13):
        state.attempt_number = retry
        ceiling = min(0.02, 0.001 * 2 ** (retry - 1))
        pauses = [PAUSES(state) for _ in range(300)]
        assert all(0 <= pause <= ceiling for pause in pauses), retry
        # Jittered across the whole window, not a fixed step.
        assert max(pauses) > 0.7 * ceiling, retry
        assert min(pauses) < 0.3 * ceiling, retry


async def _hold_until(
    locks: KeyedLocks, key: str, release: asyncio.Event, order: list[str]
) -> None:
    async with locks.hold(key):
        order.append(key)
        await release.wait()


async def test_waiters_beyond_the_bound_are_refused_at_once() -> None:
    locks = KeyedLocks(max_waiters=2)
    order: list[str] = []
    release = asyncio.Event()
    holder = asyncio.create_task(_hold_until(locks, "c", release, order))
    waiters = [asyncio.create_task(_hold_until(locks, "c", release, order)) for _ in range(2)]
    await asyncio.sleep(0)  # everyone in line
    assert order == ["c"]
    # The third waiter is refused at once: nothing releases the cart before this ends.
    with pytest.raises(CartBusyError) as refused:
        async with asyncio.timeout(1), locks.hold("c"):
            pass
    assert refused.value.status_code == 503
    assert refused.value.code == "CART_BUSY"
    # Another cart is not held up by this one's line.
    async with locks.hold("other"):
        pass
    release.set()
    await asyncio.gather(holder, *waiters)
    assert order == ["c", "c", "c"]
    assert len(locks) == 0


async def test_a_waiter_leaves_the_line_when_its_budget_ends() -> None:
    locks = KeyedLocks(max_waiters=8)
    order: list[str] = []
    release = asyncio.Event()
    holder = asyncio.create_task(_hold_until(locks, "c", release, order))
    await asyncio.sleep(0)
    patient = asyncio.create_task(_hold_until(locks, "c", release, order))
    with pytest.raises(CartBusyError):
        async with asyncio.timeout(1):  # nothing releases the cart before this ends
            await _within(0.05, _hold_until(locks, "c", release, order))
    # The line goes on without it: the next waiter gets the cart.
    release.set()
    await asyncio.gather(holder, patient)
    assert order == ["c", "c"]
    assert len(locks) == 0


async def test_with_no_waiters_allowed_a_busy_cart_is_refused_and_a_free_one_taken() -> None:
    locks = KeyedLocks(max_waiters=0)
    release = asyncio.Event()
    order: list[str] = []
    holder = asyncio.create_task(_hold_until(locks, "c", release, order))
    await asyncio.sleep(0)
    with pytest.raises(CartBusyError):
        async with asyncio.timeout(1), locks.hold("c"):
            pass
    release.set()
    await holder
    async with locks.hold("c"):
        pass
    assert len(locks) == 0


async def test_a_cart_just_handed_to_a_waiter_puts_a_newcomer_in_line_with_its_budget() -> None:
    # Released to a waiter that has yet to run, the lock is not held, but it is not free:
    # a newcomer then waits in line, counted and bounded by its budget like any waiter.
    locks = KeyedLocks(max_waiters=8)
    order: list[str] = []
    first, second = asyncio.Event(), asyncio.Event()

    async def release_then_come_again() -> None:
        async with locks.hold("c"):
            order.append("first")
            await first.wait()
        # Released to the waiter, which has not run since: nothing yields before this.
        deadlines.start(0.05)
        async with locks.hold("c"):
            order.append("newcomer")

    holder = asyncio.create_task(release_then_come_again())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(_hold_until(locks, "c", second, order))
    await asyncio.sleep(0)
    first.set()
    with pytest.raises(CartBusyError):
        async with asyncio.timeout(1):  # the waiter keeps the cart until `second`
            await holder
    second.set()
    await waiter
    assert order == ["first", "c"]
    assert len(locks) == 0
