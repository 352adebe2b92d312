"""A POS terminal's day in miniature, for locust.

Each locust user is a distinct terminal with its own API key, and loops: create a cart, scan
items one at a time, subtotal, pay cash and bill; a share of carts is cancelled instead of
paid. Request names are grouped per endpoint. cart's Server-Timing header tells how long each
call spent in master-data, over which transport; that time is recorded as its own entries
(type "masterdata") so the report can show the transport's cost as cart sees it.

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
from decimal import Decimal
from itertools import count
from typing import Any

from locust import FastHttpUser, events, task
from locust.exception import StopUser

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
                    request_type="masterdata",
                    name=f"{timing.group(2)}: {name}",
                    response_time=float(timing.group(1)),
                    response_length=0,
                    exception=None,
                    context={},
                )
            payload: dict[str, Any] = response.json()["data"]
            return payload

    @task
    def sale(self) -> None:
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
