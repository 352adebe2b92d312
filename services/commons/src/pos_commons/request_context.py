"""What one request carries across layers: its id and the time spent in dependencies.

Context variables follow the request through awaits and into the gRPC metadata cart sends,
so a log line in master-data names the same request id as the terminal's call to cart.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass, field

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


@dataclass
class Timing:
    name: str
    seconds: float
    description: str


@dataclass
class RequestTimings:
    """Server-Timing entries collected while a request is handled."""

    entries: list[Timing] = field(default_factory=list)

    def add(self, name: str, seconds: float, description: str = "") -> None:
        for entry in self.entries:
            if entry.name == name and entry.description == description:
                entry.seconds += seconds
                return
        self.entries.append(Timing(name, seconds, description))


timings_var: ContextVar[RequestTimings | None] = ContextVar("request_timings", default=None)


def accept_request_id(presented: str | None) -> str:
    """The caller's request id when it is safe to log and forward, else a new one."""
    if presented and _SAFE_REQUEST_ID.fullmatch(presented):
        return presented
    return secrets.token_hex(16)


def record_timing(name: str, seconds: float, description: str = "") -> None:
    """Adds to the current request's Server-Timing, if a request is being handled."""
    timings = timings_var.get()
    if timings is not None:
        timings.add(name, seconds, description)
