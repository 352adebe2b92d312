"""The growth drill: one terminal fills large carts and leaves them open, the way a till that
scans a pallet's worth of items into each sale would. cart keeps every open cart it wrote in
its cart cache (CART_CACHE_SIZE, CART_CACHE_MAX_BYTES); its resident memory (psutil) must
stay bounded by the bytes setting, not grow with the carts' count.

    .venv/bin/pos-cart-growth-drill --carts 40 --lines 500

runs the drill twice on one database and master-data: cart with the default byte bound, and
cart with a bound too high to matter (only the count bounds the cache), and prints each
one's RSS growth and the cache's estimate (`cart_cache_bytes`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from pos_commons.transport import Transport
from pos_devstack.seed import DEMO_STORE, load_demo_catalog
from pos_devstack.stack import (
    Tokens,
    start_cart,
    terminal_key,
)
from pos_loadtest.probes.process import resident_bytes
from pos_loadtest.probes.prometheus import Exposition
from pos_loadtest.stacks.catalog import catalog_service

MIB = 1024 * 1024
ITEMS_PER_CALL = 100  # cart's MAX_ITEMS_PER_REQUEST
DEFAULT_MAX_BYTES = 64 * MIB
UNBOUNDED = 1024 * MIB


@dataclass(frozen=True)
class Growth:
    carts: int
    lines: int
    max_bytes: int
    rss_before: int
    rss_after: int
    cache_bytes: float

    @property
    def rss_growth(self) -> int:
        return self.rss_after - self.rss_before

    def summary(self) -> str:
        return (
            f"{self.carts} carts of {self.lines} lines, CART_CACHE_MAX_BYTES "
            f"{self.max_bytes / MIB:.0f} MiB: RSS {self.rss_before / MIB:.0f} -> "
            f"{self.rss_after / MIB:.0f} MiB (+{self.rss_growth / MIB:.1f}), cart cache "
            f"{self.cache_bytes / MIB:.1f} MiB (estimated)"
        )


async def grow(
    cart_url: str, pid: int, api_key: str, codes: Sequence[str], *, carts: int, lines: int,
    max_bytes: int,
) -> Growth:  # fmt: skip
    """Fills `carts` carts of `lines` lines each through cart at `cart_url` (process `pid`),
    one terminal, and reads what that did to the process's memory."""
    before = resident_bytes(pid)
    async with httpx.AsyncClient(
        base_url=f"{cart_url}/api/v1", headers={"X-API-Key": api_key}, timeout=60
    ) as client:
        for _ in range(carts):
            created = await client.post("/carts")
            created.raise_for_status()
            cart_id = created.json()["data"]["cartId"]
            for start in range(0, lines, ITEMS_PER_CALL):
                count = min(ITEMS_PER_CALL, lines - start)
                batch = [{"itemCode": codes[(start + n) % len(codes)]} for n in range(count)]
                added = await client.post(f"/carts/{cart_id}/lineItems", json=batch)
                added.raise_for_status()
        metrics = await client.get(f"{cart_url}/metrics")
    exposition = Exposition.parse(metrics.text)
    return Growth(
        carts=carts,
        lines=lines,
        max_bytes=max_bytes,
        rss_before=before,
        rss_after=resident_bytes(pid),
        cache_bytes=exposition.total("cart_cache_bytes", "cart_cache_bytes") or 0.0,
    )


async def _main(options: argparse.Namespace) -> list[Growth]:
    tokens = Tokens.generate()
    with tempfile.TemporaryDirectory(prefix="growth-drill-") as folder:
        work = Path(folder)
        results = []
        with catalog_service(work, tokens) as service:
            uri, master = service.uri, service.master
            catalog = await load_demo_catalog(master.url, tokens.admin)
            for n, max_bytes in enumerate((options.max_bytes, UNBOUNDED)):
                cart = start_cart(
                    uri, tokens, master, transport=Transport.HTTP, log_dir=work,
                    extra_env={"CART_CACHE_MAX_BYTES": str(max_bytes)}, name=f"cart-{n}",
                )  # fmt: skip
                try:
                    key = terminal_key(
                        cart.url, tokens.cart_admin, catalog.tenant_id, DEMO_STORE, 900 + n
                    )
                    result = await grow(
                        cart.url, cart.process.pid, key, catalog.sellable_codes,
                        carts=options.carts, lines=options.lines, max_bytes=max_bytes,
                    )  # fmt: skip
                finally:
                    cart.process.stop()
                print(result.summary(), flush=True)
                results.append(result)
        return results


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pos-cart-growth-drill", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--carts", type=int, default=40, help="open carts to fill (40)")
    parser.add_argument("--lines", type=int, default=500, help="lines per cart (500, the most)")
    parser.add_argument(
        "--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
        help="CART_CACHE_MAX_BYTES of the bounded run (the default, 64 MiB)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    asyncio.run(_main(_options(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
