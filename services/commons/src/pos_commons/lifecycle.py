"""How a service process stops without failing a caller: drain, then stop gracefully.

On SIGTERM (what Docker, Kubernetes and the scripts send) the process does not stop at once:

1. **Drain.** `Lifecycle.draining` turns true and every listener hears it: `/ready` answers
   503 SHUTTING_DOWN (load balancers and Kubernetes stop sending new work), gRPC health turns
   NOT_SERVING (cart's channels stop picking this replica), HTTP answers carry
   `Connection: close` (pooled clients reconnect, to another replica where there is one).
   Everything is still served, for SHUTDOWN_DRAIN_SECONDS.
2. **Graceful stop.** uvicorn stops accepting connections and lets requests in flight finish;
   then the app's lifespan shutdown stops the gRPC server with its own grace period (calls in
   flight finish) and closes the database client.

A second SIGTERM, or SIGINT (Ctrl-C in a terminal), skips what is left of the drain.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn

from pos_commons.tls import ServerTls

_log = logging.getLogger(__name__)


class Lifecycle:
    """The process's serving state that readiness, health and responses follow."""

    def __init__(self) -> None:
        self.draining = False
        self._listeners: list[Callable[[], None]] = []

    def on_drain(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def begin_drain(self) -> None:
        if self.draining:
            return
        self.draining = True
        for listener in self._listeners:
            listener()


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with a drain period between SIGTERM and the graceful stop."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, drain_seconds: float) -> None:
        super().__init__(config)
        self._lifecycle = lifecycle
        self._drain_seconds = drain_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_timer: asyncio.TimerHandle | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        draining = self._lifecycle.draining
        if sig != signal.SIGTERM or draining or self._drain_seconds <= 0 or self._loop is None:
            if self._loop is not None and not draining:
                # No drain period, but what listens to the drain still hears it: long-lived
                # streams (the catalog feed) end now instead of holding the graceful stop.
                self._loop.call_soon_threadsafe(self._lifecycle.begin_drain)
            super().handle_exit(sig, frame)
            return
        # Remembered like uvicorn does, so the process still exits by the signal it received.
        self._captured_signals.append(sig)
        # A signal handler runs between two bytecodes of the loop's thread: hand over to it.
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        _log.info("SIGTERM: draining for %.1fs, then stopping", self._drain_seconds)
        self._lifecycle.begin_drain()
        assert self._loop is not None
        self._stop_timer = self._loop.call_later(self._drain_seconds, self._stop)

    def _stop(self) -> None:
        _log.info("drain over: stopping")
        self.should_exit = True


def serve(
    app: object,
    *,
    host: str,
    port: int,
    lifecycle: Lifecycle,
    drain_seconds: float,
    graceful_seconds: float,
    tls: ServerTls | None = None,
) -> None:
    """Runs `app` until SIGTERM (drained) or SIGINT, with uvicorn on uvloop and httptools;
    over HTTPS with `tls`."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        # Longer than any client's idle keep-alive (cart's pool: 30 s), so a client never
        # reuses a connection the server is closing at that moment.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=max(1, round(graceful_seconds)),
        **(tls.uvicorn_options() if tls else {}),
    )
    DrainingServer(config, lifecycle, drain_seconds).run()
