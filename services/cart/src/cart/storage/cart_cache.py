"""The cart cache: the carts this process wrote last, so that its next change to one need
not read it first.

A change is a read and a compare-and-swap; a terminal's next change usually reaches the
replica that made its last one, and that replica holds the cart as it wrote it. Starting from
that cached cart saves the read, and stays safe without trusting it:

- the swap still compares the version, so a cached cart that another process made stale is
  caught by MongoDB, and the change is made again from a fresh read (no change is lost);
- a cart another process wrote is marked shared and no longer cached here, so without
  replica affinity each cart costs one wasted swap, once, and then goes the uncached way;
- the unit of work (unit_of_work.py) decides a refusal (a state the action is not allowed
  in, an unknown line, a key applied already) only on a fresh read, never on a cached cart;
- reads the API answers (GET of a cart) always go to the database.

Only open carts are cached (a closed cart takes no more changes), at most `capacity` of them
and at most `max_bytes` of memory by their estimated footprint (`footprint`), least recently
written first out: a 500-line cached cart takes about 1.2 MiB, so a count alone does not
bound the memory.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge

from cart.domain.model import Cart
from cart.domain.states import CartState

_CLOSED = frozenset({CartState.COMPLETED, CartState.CANCELLED})
_SHARED = None  # the marker of a cart another process writes too

# Bytes a cached cart holds in memory, by part: upper bounds measured with tracemalloc on carts
# read back from their stored documents, codes at their longest
# (tests/unit/cart/test_cart_cache.py checks them). Free texts (a line's descriptions and tax
# name, a payment method's name: up to 200 characters of up to 4 bytes each) are counted as
# they are.
CART_BYTES = 8 * 1024
LINE_BYTES = 3 * 1024
DISCOUNT_BYTES = 640
PAYMENT_BYTES = 1152
TAX_BYTES = 768
KEY_BYTES = 320
SHARED_BYTES = 128
"""An entry that holds no cart (a shared cart's marker): its key and the dict's slot."""


def footprint(cart: Cart) -> int:
    """An upper bound of the memory `cart` holds (cached carts share unchanged parts, so the
    sum over several of them bounds them too)."""
    lines = 0
    for line in cart.lines:
        lines += (
            LINE_BYTES
            + DISCOUNT_BYTES * len(line.discounts)
            + sys.getsizeof(line.description)
            + sys.getsizeof(line.short_description)
            + sys.getsizeof(line.tax_rule.name)
        )
    return (
        CART_BYTES
        + lines
        + DISCOUNT_BYTES * len(cart.cart_discounts)
        + sum(PAYMENT_BYTES + sys.getsizeof(payment.name) for payment in cart.payments)
        + TAX_BYTES * len(cart.taxes)
        + KEY_BYTES * len(cart.idempotency_keys)
    )


class CartCache:
    def __init__(self, capacity: int, registry: CollectorRegistry, max_bytes: int) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, Cart | None] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._bytes = 0
        self._lookups = Counter(
            "cart_cache_lookups",
            "Changes that started from this process's cached cart (hit) or read it.",
            ["result"],
            registry=registry,
        )
        self._hits = self._lookups.labels(result="hit")
        self._misses = self._lookups.labels(result="miss")
        self._stale = Counter(
            "cart_cache_stale",
            "Cached carts another process had changed meanwhile (the swap failed: it is shared).",
            registry=registry,
        )
        Gauge(
            "cart_cache_bytes",
            "Memory held by this process's cached carts, estimated (CART_CACHE_MAX_BYTES).",
            registry=registry,
        ).set_function(lambda: self._bytes)

    @property
    def bytes(self) -> int:
        """The estimated memory the cached carts hold."""
        return self._bytes

    def get(self, tenant_id: str, store_code: str, terminal_no: int, cart_id: str) -> Cart | None:
        """This terminal's cached cart, if one is kept and has not expired; maybe stale."""
        cart = self._entries.get(cart_id)
        if (
            cart is None
            or cart.tenant_id != tenant_id
            or cart.store_code != store_code
            or cart.terminal_no != terminal_no
            or cart.expires_at <= datetime.now(UTC)
        ):
            self._misses.inc()
            return None
        self._hits.inc()
        return cart

    def written(self, cart: Cart) -> None:
        """`cart` is what the database holds now, as this process wrote it."""
        if self._capacity == 0 or (cart.cart_id in self._entries and self._is_shared(cart.cart_id)):
            return
        if cart.state in _CLOSED:
            if cart.cart_id in self._entries:
                self._drop(cart.cart_id)
            return
        self._keep(cart.cart_id, cart)

    def stale(self, cart_id: str) -> None:
        """A swap from the cached cart failed: another process writes this cart too."""
        if self._capacity == 0:
            return
        if self._entries.get(cart_id) is not None:
            self._stale.inc()
        self._keep(cart_id, _SHARED)

    def forget(self, cart_id: str) -> None:
        """Whether the database holds this process's last write is not known (it failed
        midway, or a transaction has yet to commit it): nothing cached."""
        if self._entries.get(cart_id, _SHARED) is not _SHARED:
            self._drop(cart_id)

    def _is_shared(self, cart_id: str) -> bool:
        return self._entries[cart_id] is _SHARED

    def _keep(self, cart_id: str, entry: Cart | None) -> None:
        size = SHARED_BYTES if entry is None else footprint(entry)
        if size > self._max_bytes:
            # Larger than all the room there is: not kept (its next change reads it).
            if cart_id in self._entries:
                self._drop(cart_id)
            return
        self._bytes += size - self._sizes.get(cart_id, 0)
        self._sizes[cart_id] = size
        self._entries[cart_id] = entry
        self._entries.move_to_end(cart_id)
        while len(self._entries) > self._capacity or self._bytes > self._max_bytes:
            oldest, _ = self._entries.popitem(last=False)
            self._bytes -= self._sizes.pop(oldest)

    def _drop(self, cart_id: str) -> None:
        del self._entries[cart_id]
        self._bytes -= self._sizes.pop(cart_id)

    def __len__(self) -> int:
        return len(self._entries)
