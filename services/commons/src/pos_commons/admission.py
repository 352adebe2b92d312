"""Admission of API requests: a bounded number served at once, a bounded wait for a turn,
and each admitted request's time budget (pos_commons.deadlines).

Without a bound, a slow database or master-data makes requests pile up in the process: each
holds memory and a pooled connection's place in line, and every one of them ends waiting out
its deadline. With it, a request that cannot start within REQUEST_QUEUE_SECONDS answers 503
OVERLOADED at once (with Retry-After), and the ones admitted keep the latency they would
have had. Probes (/health, /ready, /metrics) and long-lived streams are never held back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from pos_commons import deadlines
from pos_commons.envelope import error_response
from pos_commons.settings import ServiceSettings

API_PREFIX = "/api/"
RETRY_AFTER_SECONDS = 1


OVERLOADED = "OVERLOADED"


def _is_api_call(path: str) -> bool:
    return path.startswith(API_PREFIX)


@dataclass(frozen=True)
class AdmissionLimits:
    """MAX_CONCURRENT_REQUESTS, REQUEST_QUEUE_SECONDS and REQUEST_TIMEOUT_SECONDS, and the
    paths (long-lived streams) they do not apply to."""

    max_concurrent: int
    queue_seconds: float
    request_seconds: float
    exempt: Callable[[str], bool] = lambda path: False

    @classmethod
    def of(
        cls, settings: ServiceSettings, exempt: Callable[[str], bool] = lambda path: False
    ) -> AdmissionLimits:
        return cls(
            settings.max_concurrent_requests,
            settings.request_queue_seconds,
            settings.request_timeout_seconds,
            exempt,
        )

    def wrap(self, app: ASGIApp) -> Admission:
        return Admission(
            app,
            max_concurrent=self.max_concurrent,
            queue_seconds=self.queue_seconds,
            request_seconds=self.request_seconds,
            exempt=self.exempt,
        )


class Admission:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_concurrent: int,
        queue_seconds: float,
        request_seconds: float,
        exempt: Callable[[str], bool] = lambda path: False,
    ) -> None:
        self.app = app
        self._turns = asyncio.Semaphore(max_concurrent) if max_concurrent > 0 else None
        self._queue_seconds = queue_seconds
        self._request_seconds = request_seconds
        self._exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not _is_api_call(path) or self._exempt(path):
            await self.app(scope, receive, send)
            return
        deadlines.start(self._request_seconds)
        turns = self._turns
        if turns is None:
            await self.app(scope, receive, send)
            return
        if not await self._wait_for_turn(turns):
            # Not logged one by one: under overload that would be a line per refusal
            # (the 503s are counted by route in /metrics).
            refused = error_response(
                503,
                OVERLOADED,
                "The service is serving as many requests as it may; try again shortly.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
            await refused(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            turns.release()

    async def _wait_for_turn(self, turns: asyncio.Semaphore) -> bool:
        if not turns.locked():
            await turns.acquire()  # a free turn: taken without yielding
            return True
        try:
            async with asyncio.timeout(self._queue_seconds):
                await turns.acquire()
        except TimeoutError:
            return False
        return True
