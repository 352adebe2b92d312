"""The time budget of the request being served (REQUEST_TIMEOUT_SECONDS).

Set once when a request is admitted (pos_commons.admission); anything that waits or retries
on the request's behalf (a version conflict's retry, a per-cart lock, a master-data lookup)
asks how much is left instead of counting attempts, so a request ends within its budget
whatever it meets. Outside a request (start-up, background tasks) there is no budget.
"""

from __future__ import annotations

import math
import time
from contextvars import ContextVar

_deadline: ContextVar[float] = ContextVar("request_deadline", default=math.inf)


def start(seconds: float) -> None:
    """Gives the current task (the request) `seconds` from now."""
    _deadline.set(time.monotonic() + seconds)


def remaining() -> float:
    """Seconds left of the current request's budget (infinite outside a request)."""
    return _deadline.get() - time.monotonic()


def expired() -> bool:
    return remaining() <= 0
