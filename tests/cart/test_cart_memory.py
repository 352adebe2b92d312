"""cart's cart cache (the open carts it wrote last) is bounded by memory, not only by count:
a terminal that fills large carts and leaves them open grows the process by about
CART_CACHE_MAX_BYTES at most (resident memory read through psutil by the growth drill)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pos_commons.transport import Transport
from pos_devstack.seed import DemoCatalog
from pos_devstack.stack import start_cart
from pos_loadtest.drills.cart_growth import MIB, grow
from tests.support import Stack, TerminalNumbers, register_terminal

pytestmark = pytest.mark.drill

ROOM = 4 * MIB


async def test_a_terminal_filling_large_carts_grows_cart_by_its_bound_not_by_the_carts(
    stack: Stack, demo: DemoCatalog, terminal_numbers: TerminalNumbers, tmp_path: Path
) -> None:
    # 20 carts of 300 lines: about 14 MiB of cached carts, which the count (2,000) would all keep.
    cart = start_cart(
        stack.mongodb_uri, stack.tokens, stack.master_data, transport=Transport.HTTP,
        log_dir=tmp_path, extra_env={"CART_CACHE_MAX_BYTES": str(ROOM)}, name="cart-growth",
    )  # fmt: skip
    try:
        key = await register_terminal(
            cart.url, stack.tokens.cart_admin, demo.tenant_id, "S002", terminal_numbers.take()
        )
        growth = await grow(
            cart.url, cart.process.pid, key, demo.sellable_codes, carts=20, lines=300,
            max_bytes=ROOM,
        )  # fmt: skip
    finally:
        cart.process.stop()
    assert 0 < growth.cache_bytes <= ROOM
    # Measured: +4.0 MiB with the bound, +14.7 MiB without it (python -m
    # pos_loadtest.drills.cart_growth --carts 20 --lines 300 --max-bytes 4194304).
    assert growth.rss_growth < 10 * MIB, growth.summary()
