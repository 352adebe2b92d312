"""Which lookups master-data's gRPC server takes on: at most GRPC_MAX_CONCURRENT_RPCS at once,
and none once it has stopped accepting.

A call past the bound, or after the stop, is answered at once with UNAVAILABLE and the code
the HTTP port gives in the same case (OVERLOADED, SHUTTING_DOWN) in `x-error-code`; nothing
was done, so a client may send it elsewhere. The bound is the servicers' own rather than
grpc's `maximum_concurrent_rpcs`, which counts every stream too: the catalog feed's
subscribers and each client channel's health watch would use it up, and a refused health
watch takes the replica out of its clients' rotation.

Stopping to accept comes before the gRPC server's own stop, because grpc core (1.85) answers
CANCELLED to every call that reaches it once its shutdown has begun (grpc/grpc#41785): calls
that arrive are refused here with UNAVAILABLE instead, while those taken on finish.
"""

from __future__ import annotations

import asyncio

from pos_commons.admission import OVERLOADED
from pos_commons.errors import ServiceUnavailableError

SHUTTING_DOWN = "SHUTTING_DOWN"


class CallGate:
    def __init__(self, max_concurrent: int) -> None:
        """`max_concurrent`: calls served at once (0: no bound)."""
        self._max_concurrent = max_concurrent
        self._active = 0
        self._accepting = True
        self._idle: asyncio.Event | None = None

    @property
    def active(self) -> int:
        return self._active

    def enter(self) -> None:
        """Takes the call on, or raises the 503 it gets; `leave` once it is answered."""
        if not self._accepting:
            raise ServiceUnavailableError("master-data is shutting down.", code=SHUTTING_DOWN)
        if self._max_concurrent and self._active >= self._max_concurrent:
            raise ServiceUnavailableError(
                "master-data is serving as many calls as it may; try again shortly.",
                code=OVERLOADED,
            )
        self._active += 1

    def leave(self) -> None:
        self._active -= 1
        if self._active == 0 and self._idle is not None:
            self._idle.set()

    async def stop_accepting(self, within_seconds: float) -> None:
        """Refuses every later call, and waits (at most `within_seconds`) until the calls
        taken on are answered (`active` says how many were not)."""
        self._accepting = False
        if self._active:
            self._idle = asyncio.Event()
            try:
                async with asyncio.timeout(within_seconds):
                    await self._idle.wait()
            except TimeoutError:
                pass
