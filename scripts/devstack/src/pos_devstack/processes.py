"""Child processes this tool starts: started with a known PID, stopped by that PID only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def port_open(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (a test's or a bench's stand-in server)."""

    def log_message(self, format: str, *args: Any) -> None:
        return


class LoopbackHttpServer:
    """An HTTP server on a free loopback port, served by a daemon thread of this process
    until `stop()` (a stand-in for what the services export or check against)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer((LOOPBACK, 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class StartupError(RuntimeError):
    pass


@dataclass
class ManagedProcess:
    """One child process, its log file, and how to tell it is up."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log_file: IO[bytes] | None = field(default=None, init=False)

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was not started"
        return self.popen.pid

    def start(self) -> ManagedProcess:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            list(self.argv),
            env={**os.environ, **self.env},
            stdout=self._log_file,
            stderr=subprocess.STDOUT if self._log_file else None,
            # Its own process group: Ctrl-C in a terminal reaches us, and we stop it in order.
            start_new_session=True,
        )
        return self

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log file)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise StartupError(
                    f"{self.name} exited with {self.popen.returncode if self.popen else '?'} "
                    f"before {what}:\n{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        raise StartupError(f"{self.name} not {what} within {timeout:.0f}s:\n{self.log_tail()}")

    def wait_for_port(self, port: int, timeout: float = 30.0) -> None:
        self.wait_until(lambda: port_open(port), timeout, f"listening on port {port}")

    def wait_for_http(
        self, url: str, timeout: float = 30.0, verify: ssl.SSLContext | bool = True
    ) -> None:
        """Until GET `url` answers 200; `verify` is how an https:// URL is trusted (and our
        certificate under mutual TLS)."""

        def answers() -> bool:
            try:
                return httpx.get(url, timeout=1.0, verify=verify).status_code == 200
            except httpx.HTTPError:
                return False

        self.wait_until(answers, timeout, f"answering {url}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self.popen.returncode

    def wait_exit(self, timeout: float) -> int:
        """Waits for the process to exit by itself; returns its exit code."""
        assert self.popen is not None, f"{self.name} was not started"
        return self.popen.wait(timeout)

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets but answers nothing (a hung server)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


async def wait_for_status(url: str, status: int, within: float = 30.0) -> None:
    """Waits until GET `url` answers `status` (e.g. /ready answering 200 again, or 503)."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code == status:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {status} within {within:.0f}s")


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
