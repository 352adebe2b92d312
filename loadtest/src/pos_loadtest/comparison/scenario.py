"""What the locustfile and the runner agree on: the kinds of rows it records, how it tells the
runner when the measured window opens and what it counted in it, and the arrival schedule of
an open-loop run.

Imported by the locustfile inside locust's (gevent-patched) process: nothing heavy here.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENDPOINT_ORDER = (
    "POST /carts",
    "POST /carts/{id}/lineItems",
    "POST /carts/{id}/subtotal",
    "POST /carts/{id}/payments",
    "POST /carts/{id}/bill",
    "POST /carts/{id}/cancel",
)
"""The names locust records a sale's calls under, in the order a sale makes them."""
SALE_START = ENDPOINT_ORDER[0]
"""Every sale starts with this call, once."""
HEADLINE_ENDPOINT = "POST /carts/{id}/lineItems"
"""Adding an item: the call a terminal makes most, with one master-data lookup in it."""

MASTER_DATA_KIND = "masterdata"
"""Rows timing the master-data call inside a cart call, from cart's Server-Timing header."""
ARRIVAL_KIND = "arrival"
"""Rows of an open-loop run: how late each sale started against its scheduled moment."""
ARRIVAL_NAME = "sale start delay"

WINDOW_OPEN_SUFFIX = ".open"
"""Written by the locustfile when its statistics are reset: the measured window opens."""
WINDOW_STATS_SUFFIX = ".json"
"""Written by the locustfile when the window closes: what it counted in the window."""


def calls_per_sale(items_per_cart: int, cancel_share: float) -> float:
    """The calls a sale makes on average in the locustfile: create the cart, scan each item,
    then cancel, or subtotal, pay and bill."""
    return 1 + items_per_cart + cancel_share * 1 + (1 - cancel_share) * 3


def is_cart_call(kind: str) -> bool:
    """Whether a row with this kind is one of the terminal's calls to cart (not a timing)."""
    return kind not in (MASTER_DATA_KIND, ARRIVAL_KIND)


class ArrivalSchedule:
    """Sales start at fixed moments `1 / per_second` apart, wherever the terminals are.

    A terminal that is free takes the next moment nobody has taken and waits for it; if that
    moment has already passed (every terminal was busy), the sale starts at once and late, and
    the lateness is what the run reports. Arrivals therefore do not slow down when cart does,
    as long as enough terminals are free: an open loop, unlike a terminal that starts its next
    sale only when the last one is done.
    """

    def __init__(self, per_second: float) -> None:
        if not per_second > 0 or math.isinf(per_second):
            raise ValueError(f"an arrival rate must be positive and finite, not {per_second}")
        self.interval = 1.0 / per_second
        self._next: float | None = None

    def take(self, now: float) -> float:
        """The moment the next sale is due (the first one is due `now`)."""
        if self._next is None:
            self._next = now
        moment = self._next
        self._next += self.interval
        return moment

    def forgive_backlog(self, now: float) -> None:
        """Moments that passed untaken (while terminals were still being started) are
        dropped, so the measured window does not open with a burst of catching up."""
        if self._next is not None and self._next < now:
            self._next = now


def write_json_atomically(path: Path, payload: Mapping[str, Any]) -> None:
    """The reader polls for the file: it must never see half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(payload))
    os.replace(partial, path)
