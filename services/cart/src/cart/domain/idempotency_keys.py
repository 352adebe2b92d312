"""A cart remembers the Idempotency-Keys of its last changes: a change made with a key is
written with its key, in the same versioned write, so a change whose key the cart holds was
applied already, however the call that made it ended (cart/services/idempotency.py keeps the
calls' answers; this is what holds when no answer was kept)."""

from __future__ import annotations

from cart.domain.model import Cart

KEYS_KEPT = 32
"""Idempotency keys a cart remembers (its last changes'): a terminal retries its latest call."""


class AlreadyAppliedError(Exception):
    """The change of this Idempotency-Key is in the cart already (`cart`, as it is now)."""

    def __init__(self, cart: Cart) -> None:
        super().__init__(cart.cart_id)
        self.cart = cart


def with_key(cart: Cart, key: str | None) -> Cart:
    """`cart` remembering `key` (the change it is written with)."""
    if key is None:
        return cart
    return cart.model_copy(update={"idempotency_keys": [*cart.idempotency_keys, key][-KEYS_KEPT:]})


def applied(cart: Cart, key: str | None) -> bool:
    return key is not None and key in cart.idempotency_keys


def check_not_applied(cart: Cart, key: str | None) -> None:
    """AlreadyAppliedError if `key`'s change is in `cart`."""
    if applied(cart, key):
        raise AlreadyAppliedError(cart)
