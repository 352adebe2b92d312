"""How soon a price changed through master-data shows on every cart process, under load.

For a mode with the fed item cache: two cart processes of the mode, each under the
comparison's closed-loop scenario from a locust of its own with half the terminals, and a
probe item the load does not scan (the first sellable item beyond those it scans whose price
in the store is its unit price, so a line shows exactly what was set). Once both loads are
past their warm-up, each process scans the probe item in a cart of a terminal of its own
until its cache serves it (primed: otherwise the first scan after a change would ask
master-data and prove nothing about the feed). Then, at most every INTERVAL_SECONDS:

1. each process gets a fresh probe cart (made before the clock starts);
2. the probe item gets a new price by `PATCH /api/v1/tenants/{t}/items/{code}` (a value not
   used before in the phase, so a change a process missed cannot look shown at a later
   change that set the same value); t0 is when master-data answers 200;
3. each process scans the probe item again and again until the line shows the new price, or
   the limit passes: the time from t0 to the answer of that scan, which includes that scan's
   own round trip through a loaded cart.

Bounded: at most `changes` changes, each given up `limit_seconds` after its t0, and the
whole phase by PHASE_SLACK_SECONDS beyond that. The price is put back at the end.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from pos_commons.transport import Transport
from pos_devstack.seed import DEMO_STORE, DemoCatalog
from pos_devstack.stack import CartProcess, terminal_key
from pos_loadtest.comparison.locust_run import (
    LoadSettings,
    LocustRun,
    start_locust,
    wait_for_window,
)
from pos_loadtest.comparison.modes import Mode
from pos_loadtest.comparison.results import FeedLag, PriceChange, PropagationRun
from pos_loadtest.probes.prometheus import Exposition, Histogram, read
from pos_loadtest.stacks.comparison import ComparisonStack

PROCESSES = 2
INTERVAL_SECONDS = 0.5
LINES_PER_PROBE_CART = 40
"""A probe cart is replaced before it grows large (cart answers every line with each scan)."""
PRIME_SCANS = 50
PRIME_SECONDS = 15.0
PHASE_SLACK_SECONDS = 30.0
LAG_FAMILY = "catalog_feed_lag_seconds"
CART_ROUTES = "/api/v1/carts"
CENT = Decimal("0.01")


class PropagationError(RuntimeError):
    pass


@dataclass(frozen=True)
class PropagationPlan:
    mode: Mode
    load: LoadSettings
    """The closed loop's settings; its users are shared between the processes."""
    changes: int
    limit_seconds: float
    processes: int = PROCESSES

    @property
    def users_per_process(self) -> int:
        return max(1, self.load.users // self.processes)

    @property
    def changes_bound_seconds(self) -> float:
        """The longest the changes can take (each given up `limit_seconds` after its t0)."""
        return self.changes * (INTERVAL_SECONDS + self.limit_seconds)


def terminals_needed(users: int) -> int:
    """Load terminals the phase uses (the probe's come on top)."""
    return PROCESSES * max(1, users // PROCESSES)


def pick_modes(modes: Sequence[Mode]) -> list[Mode]:
    """One mode per transport: the first of the current code with the fed cache."""
    picked: dict[Transport, Mode] = {}
    for mode in modes:
        if mode.item_cache and mode.code_ref is None:
            picked.setdefault(mode.transport, mode)
    return list(picked.values())


def probe_item(catalog: DemoCatalog, scanned: int, store: str) -> str | None:
    """The first sellable item past the `scanned` ones whose price in `store` is its own."""
    for code in catalog.sellable_codes[scanned:]:
        if catalog.store_price(store, code) is None:
            return code
    return None


def _unit_price(catalog: DemoCatalog, code: str) -> str:
    return str(next(item["unitPrice"] for item in catalog.items if item["itemCode"] == code))


@dataclass(frozen=True)
class Scan:
    price: Decimal | None
    """The unit price of the line the scan added; None: the scan failed."""
    from_cache: bool
    answered_at: float


class ProbeTerminal:
    """One cart process, through a terminal of its own: probe carts and scans of one item."""

    def __init__(self, client: httpx.AsyncClient, item_code: str) -> None:
        self._client = client
        self._item = item_code
        self._cart: str | None = None
        self._lines = 0

    async def fresh_cart(self) -> None:
        response = await self._client.post("/api/v1/carts")
        response.raise_for_status()
        self._cart = str(response.json()["data"]["cartId"])
        self._lines = 0

    async def scan(self) -> Scan:
        if self._cart is None or self._lines >= LINES_PER_PROBE_CART:
            await self.fresh_cart()
        body = [{"itemCode": self._item}]
        try:
            response = await self._client.post(f"/api/v1/carts/{self._cart}/lineItems", json=body)
        except httpx.HTTPError:
            return Scan(None, False, time.monotonic())
        answered = time.monotonic()
        if response.status_code != 200:
            return Scan(None, False, answered)
        self._lines += 1
        line = response.json()["data"]["lines"][-1]
        if line["itemCode"] != self._item:
            raise PropagationError(f"the probe cart's last line is {line['itemCode']}")
        # An answer from the item cache has no master-data entry in Server-Timing.
        cached = "masterdata;" not in response.headers.get("server-timing", "")
        return Scan(Decimal(line["unitPrice"]), cached, answered)

    async def prime(self, deadline: float) -> bool:
        """Scans until the cache serves the item; False if it did not within the bounds."""
        await self.fresh_cart()
        for _ in range(PRIME_SCANS):
            if time.monotonic() > deadline:
                break
            scan = await self.scan()
            if scan.price is not None and scan.from_cache:
                return True
            await asyncio.sleep(0.05)
        return False

    async def wait_for(
        self, price: Decimal, t0: float, deadline: float
    ) -> tuple[float | None, int, bool | None]:
        """(seconds from t0 to the scan showing `price` or None, scans, from the cache)."""
        scans = 0
        while time.monotonic() < deadline:
            scan = await self.scan()
            scans += 1
            if scan.price == price:
                return scan.answered_at - t0, scans, scan.from_cache
            if scan.price is None:
                await asyncio.sleep(0.01)  # cart refused: do not spin on it
        return None, scans, None


def _cart_requests(metrics: Exposition) -> float:
    answered = metrics.total(
        "http_request_duration_seconds",
        "http_request_duration_seconds_count",
        lambda labels: labels.get("route", "").startswith(CART_ROUTES),
    )
    return answered or 0.0


def _lag(metrics: Exposition) -> Histogram | None:
    return metrics.histogram(LAG_FAMILY)


@dataclass
class _Probe:
    """Everything the asynchronous part measured."""

    primed: list[bool]
    changes: list[PriceChange]
    seconds: float
    lags: list[FeedLag | None]
    cart_requests: float


async def _change_price(admin: httpx.AsyncClient, path: str, price: str) -> float:
    """Sets the price; the moment master-data answered."""
    response = await admin.patch(path, json={"unitPrice": price})
    answered = time.monotonic()
    if response.status_code != 200:
        raise PropagationError(f"PATCH {path} -> {response.status_code}: {response.text[:300]}")
    return answered


async def _changes(
    admin: httpx.AsyncClient,
    path: str,
    base: Decimal,
    terminals: list[ProbeTerminal],
    plan: PropagationPlan,
) -> list[PriceChange]:
    changes: list[PriceChange] = []
    give_up = time.monotonic() + plan.changes_bound_seconds + PHASE_SLACK_SECONDS
    next_at = time.monotonic()
    for number in range(1, plan.changes + 1):
        if time.monotonic() > give_up:
            break
        await asyncio.gather(*(terminal.fresh_cart() for terminal in terminals))
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        price = (base + number * CENT).quantize(CENT)
        t0 = await _change_price(admin, path, str(price))
        next_at = t0 + INTERVAL_SECONDS
        seen = await asyncio.gather(
            *(terminal.wait_for(price, t0, t0 + plan.limit_seconds) for terminal in terminals)
        )
        changes.append(
            PriceChange(
                str(price),
                [seconds for seconds, _, _ in seen],
                [scans for _, scans, _ in seen],
                [cached for _, _, cached in seen],
            )
        )
    return changes


async def _probe(
    stack: ComparisonStack,
    carts: list[CartProcess],
    keys: list[str],
    item: str,
    plan: PropagationPlan,
) -> _Probe:
    catalog = stack.catalog
    assert catalog is not None
    original = _unit_price(catalog, item)
    path = f"/api/v1/tenants/{stack.tenant_id}/items/{item}"

    async with AsyncExitStack() as clients:

        async def client(base_url: str, headers: dict[str, str]) -> httpx.AsyncClient:
            made = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10)
            return await clients.enter_async_context(made)

        terminals = [
            ProbeTerminal(await client(cart.url, {"X-API-Key": key}), item)
            for cart, key in zip(carts, keys, strict=True)
        ]
        admin = await client(stack.master.url, {"Authorization": f"Bearer {stack.tokens.admin}"})
        prime_until = time.monotonic() + PRIME_SECONDS
        primed = list(await asyncio.gather(*(t.prime(prime_until) for t in terminals)))
        # Read while nothing of ours is in flight: blocking the loop for it costs nothing.
        before = [read(f"{cart.url}/metrics") for cart in carts]
        started = time.monotonic()
        try:
            changes = await _changes(admin, path, Decimal(original).quantize(CENT), terminals, plan)
        finally:
            seconds = time.monotonic() - started
            after = [read(f"{cart.url}/metrics") for cart in carts]
            await _change_price(admin, path, original)
    lags: list[FeedLag | None] = []
    requests = 0.0
    for early, late in zip(before, after, strict=True):
        first, last = _lag(early), _lag(late)
        lags.append(None if first is None or last is None else FeedLag.of(last.minus(first)))
        requests += _cart_requests(late) - _cart_requests(early)
    return _Probe(primed, changes, seconds, lags, requests)


def _split_keys(keys_file: Path, work: Path, plan: PropagationPlan) -> list[Path]:
    """One keys file per process: the locustfile gives its users the file's keys in order."""
    keys: list[Any] = json.loads(keys_file.read_text())
    each = plan.users_per_process
    if len(keys) < each * plan.processes:
        raise PropagationError(f"{len(keys)} terminal keys for {each * plan.processes} terminals")
    files = []
    for number in range(plan.processes):
        path = work / f"propagation-keys-{number + 1}.json"
        path.write_text(json.dumps(keys[number * each : (number + 1) * each]))
        files.append(path)
    return files


def _load_of(plan: PropagationPlan) -> LoadSettings:
    """Each process's share of the closed loop, running longer than the changes can take (it
    is stopped when they are done)."""
    bound = PRIME_SECONDS + plan.changes_bound_seconds + PHASE_SLACK_SECONDS
    return LoadSettings(
        users=plan.users_per_process,
        seconds=bound,
        warmup_seconds=plan.load.warmup_seconds,
        items_per_cart=plan.load.items_per_cart,
        cancel_share=plan.load.cancel_share,
        think_time=plan.load.think_time,
    )


def measure_propagation(stack: ComparisonStack, plan: PropagationPlan) -> PropagationRun:
    """The phase for one mode; every process it started is stopped however it ends."""
    catalog = stack.catalog
    if catalog is None:
        raise PropagationError("the stack does not say which catalog it loaded")
    item = probe_item(catalog, stack.item_count, DEMO_STORE)
    if item is None:
        raise PropagationError("no item left beyond those the load scans (--catalog-size)")
    label = f"propagation-{plan.mode.name}"
    key_files = _split_keys(stack.keys_file, stack.work, plan)
    first_probe_terminal = len(json.loads(stack.keys_file.read_text())) + 1
    with ExitStack() as exits:
        carts = [
            exits.enter_context(stack.cart(plan.mode, name=f"cart-{label}-{number}"))
            for number in range(1, plan.processes + 1)
        ]
        probe_keys = [
            terminal_key(cart.url, stack.tokens.cart_admin, stack.tenant_id, DEMO_STORE, number)
            for number, cart in enumerate(carts, start=first_probe_terminal)
        ]
        load = _load_of(plan)
        locusts: list[LocustRun] = []
        for number, (cart, keys) in enumerate(zip(carts, key_files, strict=True), start=1):
            locust = start_locust(
                cart.url, keys, stack.items_file, load, stack.work / f"{label}-{number}",
                seed=number,
            )  # fmt: skip
            exits.callback(locust.stop)
            locusts.append(locust)
        for locust in locusts:
            wait_for_window(locust)
        probe = asyncio.run(_probe(stack, carts, probe_keys, item, plan))
        for locust in locusts:
            if not locust.process.running():
                tail = locust.process.log_tail()
                raise PropagationError(f"locust stopped before the changes were done:\n{tail}")
    return PropagationRun(
        mode=plan.mode.name,
        item_code=item,
        processes=plan.processes,
        users=plan.users_per_process * plan.processes,
        limit_seconds=plan.limit_seconds,
        planned_changes=plan.changes,
        changes=probe.changes,
        primed=probe.primed,
        feed_lag=probe.lags,
        seconds=probe.seconds,
        cart_requests=probe.cart_requests,
    )
