"""A POS terminal's day in miniature, for locust.

Each locust user is a distinct terminal with its own API key, and loops: create a cart, scan
items one at a time, subtotal, pay cash and bill; a share of carts is cancelled instead of
paid. Request names are grouped per endpoint. cart's Server-Timing header tells how long each
call spent in master-data, over which transport; that time is recorded as its own entries
(type "masterdata") so the report can show the transport's cost as cart sees it.

Closed loop by default: a terminal starts its next sale when its last one is done. With
--arrival-rate, sales start at that many per second whatever cart's speed (an open loop, see
pos_loadtest.comparison.scenario.ArrivalSchedule); how late each sale started is recorded as
rows of type "arrival". With --window-file, the measured window is marked for the runner:
--settle-seconds after every user has started, the statistics are reset and PREFIX.open is
written;
--measure-seconds later PREFIX.json gets what was counted in the window and locust stops, so
requests and the runner's CPU readings cover the same seconds.

Run by the comparison runner (scripts/compare.sh); by hand:

    locust -f loadtest/locustfile.py --headless -u 10 -r 10 -t 30s \\
        --host http://127.0.0.1:8003 --keys-file keys.json
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import gevent
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import StopUser

from pos_loadtest.comparison.scenario import (
    ARRIVAL_KIND,
    ARRIVAL_NAME,
    MASTER_DATA_KIND,
    WINDOW_OPEN_SUFFIX,
    WINDOW_STATS_SUFFIX,
    ArrivalSchedule,
    write_json_atomically,
)

_SERVER_TIMING = re.compile(r'masterdata;dur=([0-9.]+);desc="(\w+)"')
_key_numbers = count()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--keys-file", required=True, help="JSON list of terminal API keys")
    parser.add_argument("--items-file", required=True, help="JSON list of item codes to scan")
    parser.add_argument("--items-per-cart", type=int, default=5)
    parser.add_argument("--cancel-share", type=float, default=0.1, help="0..1")
    parser.add_argument("--think-time", type=float, default=0.0, help="seconds between calls")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--idempotency-keys", action="store_true", help="send an Idempotency-Key with each change"
    )
    parser.add_argument(
        "--arrival-rate", type=float, default=0.0, help="sales started per second (0: closed loop)"
    )
    parser.add_argument("--window-file", default="", help="prefix of the window's marker files")
    parser.add_argument(
        "--settle-seconds", type=float, default=0.0, help="after every user started, before it"
    )
    parser.add_argument(
        "--measure-seconds", type=float, default=0.0, help="length of the measured window"
    )
    parser.add_argument(
        "--wait-for-host", type=float, default=0.0, help="seconds to wait for /health first"
    )


@dataclass
class _Run:
    """This locust process's run (one process: the schedule is shared by all its users)."""

    environment: Environment | None = None
    schedule: ArrivalSchedule | None = None
    window_opened_at: float | None = None

    @property
    def options(self) -> Any:
        assert self.environment is not None
        assert self.environment.parsed_options is not None
        return self.environment.parsed_options

    @property
    def stats(self) -> Any:
        assert self.environment is not None
        assert self.environment.runner is not None
        return self.environment.runner.stats


_run = _Run()


def _wait_for_host(url: str, seconds: float) -> None:
    """Until cart answers: locust starts while cart does (each takes seconds)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urlopen(url, timeout=1) as response:  # noqa: S310 - the runner's own URL
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer within {seconds:g}s")
        time.sleep(0.05)


@events.init.add_listener
def _on_init(environment: Environment, **_kwargs: Any) -> None:
    _run.environment = environment
    if _run.options.arrival_rate > 0:
        _run.schedule = ArrivalSchedule(_run.options.arrival_rate)
    if _run.options.wait_for_host > 0:
        _wait_for_host(f"{environment.host}/health", _run.options.wait_for_host)


@events.spawning_complete.add_listener
def _on_every_user_started(user_count: int, **_kwargs: Any) -> None:
    if _run.options.window_file and _run.window_opened_at is None:
        gevent.spawn_later(_run.options.settle_seconds, _open_window, user_count)


def _open_window(user_count: int) -> None:
    _run.stats.reset_all()
    opened = _run.window_opened_at = time.monotonic()
    if _run.schedule is not None:
        _run.schedule.forgive_backlog(opened)
    marker = Path(_run.options.window_file + WINDOW_OPEN_SUFFIX)
    write_json_atomically(marker, {"users": user_count})
    gevent.spawn_later(_run.options.measure_seconds, _close_window, opened)


def _percentile(entry: Any, share: float) -> float | None:
    return float(entry.get_response_time_percentile(share)) if entry.num_requests else None


def _close_window(opened: float) -> None:
    """What was counted since the reset, then stop: requests finished after this moment (the
    users' last ones, cut short) are not part of the measured window."""
    seconds = time.monotonic() - opened
    rows = [
        {
            "kind": entry.method,
            "name": entry.name,
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "rps": entry.num_requests / seconds,
            "p50_ms": _percentile(entry, 0.50),
            "p95_ms": _percentile(entry, 0.95),
            "p99_ms": _percentile(entry, 0.99),
            "average_ms": entry.avg_response_time if entry.num_requests else None,
        }
        for entry in _run.stats.entries.values()
    ]
    window_file = Path(_run.options.window_file + WINDOW_STATS_SUFFIX)
    write_json_atomically(window_file, {"seconds": seconds, "rows": rows})
    assert _run.environment is not None
    assert _run.environment.runner is not None
    _run.environment.runner.quit()


class Terminal(FastHttpUser):
    """One POS terminal."""

    def on_start(self) -> None:
        options = self.environment.parsed_options
        with open(options.keys_file) as keys_file:
            keys = json.load(keys_file)
        number = next(_key_numbers)
        if number >= len(keys):
            raise StopUser(f"only {len(keys)} terminal keys for more users")
        with open(options.items_file) as items_file:
            self.items: list[str] = json.load(items_file)
        self.key = keys[number]
        self.random = random.Random(options.seed + number)
        self.options = options

    def _pause(self) -> None:
        if self.options.think_time > 0:
            time.sleep(self.options.think_time)

    def _call(self, method: str, path: str, name: str, body: Any = None) -> dict[str, Any] | None:
        headers = {"X-API-Key": self.key}
        if method != "GET" and self.options.idempotency_keys:
            headers["Idempotency-Key"] = str(uuid.UUID(int=self.random.getrandbits(128)))
        with self.client.request(
            method, path, name=name, json=body, headers=headers, catch_response=True
        ) as response:
            if response.status_code not in (200, 201):
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return None
            timing = _SERVER_TIMING.search(response.headers.get("server-timing", ""))
            if timing:
                events.request.fire(
                    request_type=MASTER_DATA_KIND,
                    name=f"{timing.group(2)}: {name}",
                    response_time=float(timing.group(1)),
                    response_length=0,
                    exception=None,
                    context={},
                )
            payload: dict[str, Any] = response.json()["data"]
            return payload

    def _wait_for_arrival(self) -> None:
        """In an open loop, waits for the next scheduled sale; records how late it starts."""
        if _run.schedule is None:
            return
        due = _run.schedule.take(time.monotonic())
        time.sleep(max(0.0, due - time.monotonic()))  # gevent's sleep: other users run
        events.request.fire(
            request_type=ARRIVAL_KIND,
            name=ARRIVAL_NAME,
            response_time=max(0.0, time.monotonic() - due) * 1000,
            response_length=0,
            exception=None,
            context={},
        )

    @task
    def sale(self) -> None:
        self._wait_for_arrival()
        cart = self._call("POST", "/api/v1/carts", "POST /carts")
        if cart is None:
            return
        base = f"/api/v1/carts/{cart['cartId']}"
        for _ in range(self.options.items_per_cart):
            self._pause()
            scanned = [{"itemCode": self.random.choice(self.items)}]
            if (
                self._call("POST", f"{base}/lineItems", "POST /carts/{id}/lineItems", scanned)
                is None
            ):
                return
        self._pause()
        if self.random.random() < self.options.cancel_share:
            self._call("POST", f"{base}/cancel", "POST /carts/{id}/cancel")
            return
        totals = self._call("POST", f"{base}/subtotal", "POST /carts/{id}/subtotal")
        if totals is None:
            return
        self._pause()
        due = Decimal(totals["totals"]["balanceDue"])
        tendered = str(due.to_integral_value(rounding="ROUND_CEILING") + 5)
        payment = {"paymentCode": "CASH", "amount": tendered}
        if self._call("POST", f"{base}/payments", "POST /carts/{id}/payments", payment) is None:
            return
        self._pause()
        self._call("POST", f"{base}/bill", "POST /carts/{id}/bill")
