"""What a cart process keeps of the carts it wrote (cart/storage/cart_cache.py), in isolation:
which copies it hands out, and which it must not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from cart.domain import operations as ops
from cart.domain.model import Cart
from cart.domain.operations import PricingPolicy
from cart.domain.states import CartState
from cart.storage.cart_cache import RecentCarts

TENANT, STORE, TERMINAL = "t1", "S001", 7


def _cart(cart_id: str, *, lifetime: timedelta = timedelta(hours=1)) -> Cart:
    now = datetime.now(UTC)
    return ops.new_cart(cart_id, TENANT, STORE, TERMINAL, now, now + lifetime, PricingPolicy())


def _get(copies: RecentCarts, cart_id: str, terminal_no: int = TERMINAL) -> Cart | None:
    return copies.get(TENANT, STORE, terminal_no, cart_id)


def test_a_written_cart_is_handed_out_to_its_own_terminal_only() -> None:
    copies = RecentCarts(10, CollectorRegistry())
    cart = _cart("a")
    copies.written(cart)
    assert _get(copies, "a") is cart
    assert _get(copies, "a", terminal_no=TERMINAL + 1) is None
    assert copies.get("t2", STORE, TERMINAL, "a") is None
    assert copies.get(TENANT, "S002", TERMINAL, "a") is None


def test_an_expired_copy_is_not_handed_out() -> None:
    copies = RecentCarts(10, CollectorRegistry())
    copies.written(_cart("a", lifetime=timedelta(seconds=-1)))
    assert _get(copies, "a") is None


def test_closed_carts_are_not_kept() -> None:
    copies = RecentCarts(10, CollectorRegistry())
    cart = _cart("a")
    copies.written(cart)
    for state in (CartState.COMPLETED, CartState.CANCELLED):
        copies.written(cart.model_copy(update={"state": state}))
        assert _get(copies, "a") is None
        assert len(copies) == 0


def test_a_shared_cart_is_no_longer_kept_until_it_is_forgotten() -> None:
    copies = RecentCarts(10, CollectorRegistry())
    copies.written(_cart("a"))
    copies.stale("a")
    assert _get(copies, "a") is None
    copies.written(_cart("a"))
    assert _get(copies, "a") is None  # still shared: another process writes it too
    assert len(copies) == 1


def test_forget_drops_a_copy_but_not_the_shared_mark() -> None:
    copies = RecentCarts(10, CollectorRegistry())
    copies.written(_cart("a"))
    copies.forget("a")
    assert _get(copies, "a") is None
    copies.stale("b")
    copies.forget("b")
    copies.written(_cart("b"))
    assert _get(copies, "b") is None


def test_capacity_bounds_the_copies_least_recently_written_first_out() -> None:
    copies = RecentCarts(2, CollectorRegistry())
    for cart_id in ("a", "b", "c"):
        copies.written(_cart(cart_id))
    assert _get(copies, "a") is None
    copies.written(_cart("b"))  # b is the most recent now: d pushes c out
    copies.written(_cart("d"))
    assert [_get(copies, i) is not None for i in "bcd"] == [True, False, True]
    assert len(copies) == 2


def test_capacity_zero_keeps_nothing() -> None:
    copies = RecentCarts(0, CollectorRegistry())
    copies.written(_cart("a"))
    copies.stale("a")
    assert _get(copies, "a") is None
    assert len(copies) == 0
