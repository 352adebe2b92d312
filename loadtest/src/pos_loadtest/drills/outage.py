"""A master-data outage drill: terminals keep selling through cart while master-data is killed,
and every cart call is counted.

    scripts/outage_drill.sh [--terminals 8] [--warmup 10] [--outage 20] [--after 10]

One master-data (what a small store runs), one cart per transport, each with its terminals
selling nonstop (sales_load.SalesLoad: create, scan three of the first --items items one
at a time, subtotal, pay the balance in cash, bill). After --warmup seconds (the carts' item
caches hold the items and cash by then), a measured window of the same length shows what a
warmed scan costs master-data (its item lookups counted at master-data, per scan counted at
cart); then master-data is killed (SIGKILL: no drain) for --outage seconds, well inside
ITEM_CACHE_OFFLINE_SECONDS, while /ready of each cart is polled and an item no cart has seen
is scanned once a second; then master-data is started again on the same ports and the drill
waits until every cart's feed is live again, and sells --after seconds more.

The goal: 0 failed calls for the items and payment methods the carts have seen, carts ready
throughout, the unseen item 503. Every loop is bounded; every process started here is stopped
at the end, on failure too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from pos_commons.transport import Transport
from pos_devstack.seed import DEMO_STORE, demo_catalog, load_demo_catalog
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    Tokens,
    start_cart,
    start_master_data,
    start_secantus,
    terminal_key,
)
from pos_loadtest.drills.sales_load import DrillResult, SalesLoad

FIRST_TERMINAL_NO = 9501
LOOKUP_ROUTES = ("/itemDetails", "/paymentMethods/{code}")
LOOKUP_METHODS = ("GetItemDetail", "BatchGetItemDetails", "GetPaymentMethod")
SCAN_ROUTE = "/api/v1/carts/{cart_id}/lineItems"


@dataclass
class OutageFigures:
    transport: Transport
    warm_scans: int = 0
    warm_lookups: int = 0
    """master-data's item and payment lookups in the warmed window (all transports' carts)."""
    during: DrillResult | None = None
    not_ready: int = 0
    ready_probes: int = 0
    unseen: Counter[int] = field(default_factory=Counter)
    live_again_seconds: float | None = None
    after: DrillResult | None = None

    def summary(self) -> str:
        during = self.during
        assert during is not None
        lines = [
            f"{self.transport}: warmed window: {self.warm_scans} scans at cart",
            f"  master-data away ({during.seconds:.0f}s): {_calls(during)}",
            f"  /ready: {self.not_ready} of {self.ready_probes} probes not 200",
            f"  unseen item scanned: {dict(self.unseen)} (status: count)",
            f"  feed live again {self.live_again_seconds:.1f}s after master-data answered again"
            if self.live_again_seconds is not None
            else "  feed NOT live again",
        ]
        if self.after is not None:
            lines.append(f"  after it was back ({self.after.seconds:.0f}s): {_calls(self.after)}")
        return "\n".join(lines)


def _calls(result: DrillResult) -> str:
    detail = ", ".join(f"{n} x {what}" for what, n in result.failures.most_common()) or "none"
    return f"{result.calls} cart calls ({result.sales} sales), {result.failed} failed ({detail})"


def _counter_sum(text: str, name: str, label: str, wanted: tuple[str, ...]) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and sample.labels.get(label, "").endswith(wanted)
    )


async def _metrics(url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        return (await client.get(f"{url}/metrics")).text


async def lookups_at(master: MasterDataProcess) -> float:
    """Item and payment lookups master-data has answered, over HTTP and gRPC."""
    text = await _metrics(master.url)
    http = _counter_sum(text, "http_request_duration_seconds_count", "route", LOOKUP_ROUTES)
    grpc = _counter_sum(text, "grpc_server_handled_total", "method", LOOKUP_METHODS)
    return http + grpc


async def scans_at(cart: CartProcess) -> float:
    text = await _metrics(cart.url)
    return _counter_sum(text, "http_request_duration_seconds_count", "route", (SCAN_ROUTE,))


async def _feed_live(cart: CartProcess) -> bool:
    async with httpx.AsyncClient(timeout=2) as client:
        try:
            feed = (await client.get(f"{cart.url}/health")).json()["data"]["catalogFeed"]
        except (httpx.HTTPError, KeyError):
            return False
    return bool(feed["live"] >= 1 and feed["down"] == 0 and feed["connecting"] == 0)


async def _probe(
    cart: CartProcess, key: str, unseen: str, figures: OutageFigures, stop: asyncio.Event
) -> None:
    """/ready twice a second, and `unseen` (an item no terminal sells) once a second, until
    `stop`."""
    headers = {"X-API-Key": key}
    async with httpx.AsyncClient(base_url=cart.url, headers=headers, timeout=5) as client:
        cart_id = (await client.post("/api/v1/carts")).json()["data"]["cartId"]
        tick = 0
        while not stop.is_set():
            figures.ready_probes += 1
            if (await client.get("/ready")).status_code != 200:
                figures.not_ready += 1
            if tick % 2 == 0:
                scanned = await client.post(
                    f"/api/v1/carts/{cart_id}/lineItems", json=[{"itemCode": unseen}]
                )
                figures.unseen[scanned.status_code] += 1
            tick += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)


async def run_drill(
    mongodb_uri: str,
    tokens: Tokens,
    *,
    terminals: int,
    items: int,
    warmup: float,
    outage: float,
    after: float,
    work: Path,
) -> list[OutageFigures]:
    master = await asyncio.to_thread(start_master_data, mongodb_uri, tokens, log_dir=work)
    # The demo catalog's first items and a few more, the last of which no terminal sells.
    catalog = await load_demo_catalog(master.url, tokens.admin, demo_catalog(items + 10))
    codes = catalog.sellable_codes[:items]
    unseen = catalog.sellable_codes[-1]
    carts: dict[Transport, CartProcess] = {}
    figures = {transport: OutageFigures(transport) for transport in Transport}
    try:
        for transport in Transport:
            carts[transport] = await asyncio.to_thread(
                start_cart, mongodb_uri, tokens, master, transport=transport, log_dir=work,
                name=f"cart-{transport}",
            )  # fmt: skip
        keys: dict[Transport, list[str]] = {}
        number = FIRST_TERMINAL_NO
        for transport, cart in carts.items():
            keys[transport] = []
            for _ in range(terminals + 1):  # the last one probes
                keys[transport].append(
                    await asyncio.to_thread(
                        terminal_key,
                        cart.url,
                        tokens.cart_admin,
                        catalog.tenant_id,
                        DEMO_STORE,
                        number,
                    )
                )
                number += 1

        # Warm up, then a measured window of warmed sales.
        loads = {t: SalesLoad(codes, DrillResult(t, 0)) for t in Transport}
        async with _all_selling(loads, carts, keys):
            await asyncio.sleep(warmup)
            lookups_before = await lookups_at(master)
            scans_before = {t: await scans_at(carts[t]) for t in Transport}
            await asyncio.sleep(warmup)
            lookups = await lookups_at(master) - lookups_before
            for t in Transport:
                figures[t].warm_scans = int(await scans_at(carts[t]) - scans_before[t])
                figures[t].warm_lookups = int(lookups)

        # The outage: master-data killed, terminals selling, /ready and an unseen item probed.
        loads = {t: SalesLoad(codes, DrillResult(t, 0)) for t in Transport}
        stop = asyncio.Event()
        async with _all_selling(loads, carts, keys):
            os.kill(master.process.pid, signal.SIGKILL)
            probes = [
                asyncio.create_task(_probe(carts[t], keys[t][-1], unseen, figures[t], stop))
                for t in Transport
            ]
            await asyncio.sleep(outage)
            stop.set()
            await asyncio.gather(*probes)
        for t in Transport:
            figures[t].during = loads[t].result
        master.process.stop()

        master = await asyncio.to_thread(
            start_master_data, mongodb_uri, tokens, http_port=master.http_port,
            grpc_port=master.grpc_port, log_dir=work, name="master-data-again",
        )  # fmt: skip
        back = time.monotonic()  # it answers again
        loads = {t: SalesLoad(codes, DrillResult(t, 0)) for t in Transport}
        async with _all_selling(loads, carts, keys):
            deadline = back + 60
            waiting = set(Transport)
            while waiting and time.monotonic() < deadline:
                for t in list(waiting):
                    if await _feed_live(carts[t]):
                        figures[t].live_again_seconds = time.monotonic() - back
                        waiting.discard(t)
                await asyncio.sleep(0.1)
            await asyncio.sleep(after)
        for t in Transport:
            figures[t].after = loads[t].result
    finally:
        for cart in carts.values():
            cart.process.stop()
        master.process.stop()
    return list(figures.values())


@asynccontextmanager
async def _all_selling(
    loads: dict[Transport, SalesLoad],
    carts: dict[Transport, CartProcess],
    keys: dict[Transport, list[str]],
) -> AsyncIterator[None]:
    """Every cart's terminals selling while the block runs (the last key of each probes)."""
    async with AsyncExitStack() as stack:
        for transport, cart in carts.items():
            await stack.enter_async_context(
                loads[transport].selling(cart.url, keys[transport][:-1])
            )
        yield


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pos-outage-drill", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--terminals", type=int, default=8, help="terminals per cart")
    parser.add_argument("--items", type=int, default=30, help="items the terminals sell")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds, twice: warming, then measured"
    )
    parser.add_argument("--outage", type=float, default=20.0, help="seconds master-data is away")
    parser.add_argument("--after", type=float, default=10.0, help="seconds sold after it is back")
    options = parser.parse_args(argv)
    if min(options.terminals, options.items) < 1 or min(options.warmup, options.outage) <= 0:
        parser.error("terminals, items, warmup and outage must be positive")
    return options


async def _main(options: argparse.Namespace) -> list[OutageFigures]:
    tokens = Tokens.generate()
    with tempfile.TemporaryDirectory(prefix="outage-drill-") as folder:
        work = Path(folder)
        database, uri = start_secantus(":memory:", log_dir=work)
        try:
            results = await run_drill(
                uri, tokens, terminals=options.terminals, items=options.items,
                warmup=options.warmup, outage=options.outage, after=options.after, work=work,
            )  # fmt: skip
        finally:
            database.stop()
    warm = results[0]
    scans = sum(result.warm_scans for result in results)
    print(
        f"warmed window: {scans} scans at cart, {warm.warm_lookups} lookups at master-data "
        f"({warm.warm_lookups / max(scans, 1):.4f} per scan)",
        flush=True,
    )
    for result in results:
        print(result.summary(), flush=True)
    return results


def failed(results: list[OutageFigures]) -> bool:
    return any(
        (result.during is not None and result.during.failed)
        or result.not_ready
        or set(result.unseen) - {503}
        or result.live_again_seconds is None
        or (result.after is not None and result.after.failed)
        for result in results
    )


def main(argv: list[str] | None = None) -> int:
    return 1 if failed(asyncio.run(_main(_options(argv)))) else 0


if __name__ == "__main__":
    sys.exit(main())
