"""What a cart process keeps of the carts it wrote (cart/storage/cart_cache.py), in isolation:
which cache it hands out, and which it must not."""

from __future__ import annotations

import gc
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import bson
import pytest
from prometheus_client import CollectorRegistry

from cart.domain import operations as ops
from cart.domain.model import Cart, DiscountType, TaxRule
from cart.domain.operations import ItemInfo, ItemRequest, PaymentMethodInfo, PricingPolicy
from cart.domain.states import CartState
from cart.storage.cart_cache import CartCache, footprint
from cart.storage.carts import cart_document
from pos_commons.mongo import CODEC_OPTIONS
from pos_commons.tax import RoundingMethod, TaxType

TENANT, STORE, TERMINAL = "t1", "S001", 7
ROOM = 64 * 1024 * 1024


def _cart(cart_id: str, *, lifetime: timedelta = timedelta(hours=1)) -> Cart:
    now = datetime.now(UTC)
    return ops.new_cart(cart_id, TENANT, STORE, TERMINAL, now, now + lifetime, PricingPolicy())


def _get(cache: CartCache, cart_id: str, terminal_no: int = TERMINAL) -> Cart | None:
    return cache.get(TENANT, STORE, terminal_no, cart_id)


def test_a_written_cart_is_handed_out_to_its_own_terminal_only() -> None:
    cache = CartCache(10, CollectorRegistry(), ROOM)
    cart = _cart("a")
    cache.written(cart)
    assert _get(cache, "a") is cart
    assert _get(cache, "a", terminal_no=TERMINAL + 1) is None
    assert cache.get("t2", STORE, TERMINAL, "a") is None
    assert cache.get(TENANT, "S002", TERMINAL, "a") is None


def test_an_expired_cached_cart_is_not_handed_out() -> None:
    cache = CartCache(10, CollectorRegistry(), ROOM)
    cache.written(_cart("a", lifetime=timedelta(seconds=-1)))
    assert _get(cache, "a") is None


def test_closed_carts_are_not_kept() -> None:
    cache = CartCache(10, CollectorRegistry(), ROOM)
    cart = _cart("a")
    cache.written(cart)
    for state in (CartState.COMPLETED, CartState.CANCELLED):
        cache.written(cart.model_copy(update={"state": state}))
        assert _get(cache, "a") is None
        assert len(cache) == 0


def test_a_shared_cart_is_no_longer_kept_until_it_is_forgotten() -> None:
    cache = CartCache(10, CollectorRegistry(), ROOM)
    cache.written(_cart("a"))
    cache.stale("a")
    assert _get(cache, "a") is None
    cache.written(_cart("a"))
    assert _get(cache, "a") is None  # still shared: another process writes it too
    assert len(cache) == 1


def test_forget_drops_a_cached_cart_but_not_the_shared_mark() -> None:
    cache = CartCache(10, CollectorRegistry(), ROOM)
    cache.written(_cart("a"))
    cache.forget("a")
    assert _get(cache, "a") is None
    cache.stale("b")
    cache.forget("b")
    cache.written(_cart("b"))
    assert _get(cache, "b") is None


def test_capacity_bounds_the_cached_carts_least_recently_written_first_out() -> None:
    cache = CartCache(2, CollectorRegistry(), ROOM)
    for cart_id in ("a", "b", "c"):
        cache.written(_cart(cart_id))
    assert _get(cache, "a") is None
    cache.written(_cart("b"))  # b is the most recent now: d pushes c out
    cache.written(_cart("d"))
    assert [_get(cache, i) is not None for i in "bcd"] == [True, False, True]
    assert len(cache) == 2


def test_capacity_zero_keeps_nothing() -> None:
    cache = CartCache(0, CollectorRegistry(), ROOM)
    cache.written(_cart("a"))
    cache.stale("a")
    assert _get(cache, "a") is None
    assert len(cache) == 0


def _large_cart(cart_id: str, lines: int, *, extras: int = 0, letter: str = "😀") -> Cart:
    """A cart of `lines` lines whose items take all the room master-data allows (64-character
    codes, 200-character descriptions of 4-byte characters), with `extras` line discounts,
    cart discounts, payments and keys."""
    tax = TaxRule(
        tax_code="T" * 64,
        tax_type=TaxType.EXTERNAL,
        name=letter * 200,
        rate=Decimal("10"),
        rounding_digits=2,
        rounding_method=RoundingMethod.HALF_UP,
    )
    items = {
        f"{n:064d}": ItemInfo(
            item_code=f"{n:064d}",
            description=f"{n:04d}" + letter * 196,
            short_description=f"{n:04d}" + letter * 196,
            category_code="C" * 64,
            effective_price=Decimal("12.34"),
            is_discount_restricted=False,
            is_deleted=False,
            tax_rule=tax,
            unit_price=Decimal("12.34"),
            store_price=None,
        )
        for n in range(lines)
    }
    policy = PricingPolicy()
    cart = ops.add_items(
        _cart(cart_id), [ItemRequest(code, 1, None) for code in items], items, policy
    )
    cash = PaymentMethodInfo(
        payment_code="P" * 64,
        name=letter * 200,
        can_give_change=True,
        can_exceed_balance=True,
        is_active=True,
    )
    for n in range(extras):
        cart = ops.add_line_discount(
            cart, 1 + n % lines, DiscountType.AMOUNT, Decimal("0.01"), policy
        )
    if extras:
        cart = ops.subtotal(cart, policy)
    for _ in range(extras):
        cart = ops.add_cart_discount(cart, DiscountType.AMOUNT, Decimal("0.01"), policy)
    for _ in range(extras):
        cart = ops.add_payment(cart, cash, Decimal("0.01"), policy)
    keys = [str(uuid.uuid4()) * 7 for _ in range(3 * extras)]  # 252 characters, near the longest
    return cart.model_copy(update={"idempotency_keys": keys})


def _measured(cart: Cart) -> int:
    """Bytes a cached `cart` holds when it shares nothing: read back from its stored
    document (as a cart process reads it), once the document itself is gone."""
    encoded = bson.encode(cart_document(cart), codec_options=CODEC_OPTIONS)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cached = Cart.model_validate(bson.decode(encoded, CODEC_OPTIONS))
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before + 0 * len(cached.lines)
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("lines", "extras"), [(1, 0), (10, 0), (100, 0), (500, 0), (1, 10), (20, 10)]
)
@pytest.mark.parametrize("letter", ["😀", "a"])
def test_a_cached_cart_s_footprint_bounds_its_memory_without_overstating_it(
    lines: int, extras: int, letter: str
) -> None:
    cart = _large_cart("a", lines, extras=extras, letter=letter)
    measured = _measured(cart)
    assert measured <= footprint(cart) <= 2 * measured


def test_the_cached_carts_take_at_most_max_bytes_least_recently_written_first_out() -> None:
    carts = {cart_id: _large_cart(cart_id, 20) for cart_id in "abcd"}
    room = 3 * footprint(carts["a"])
    cache = CartCache(100, CollectorRegistry(), room)
    for cart in carts.values():
        cache.written(cart)
    assert [_get(cache, cart_id) is not None for cart_id in "abcd"] == [False, True, True, True]
    assert cache.bytes == room
    grown = _large_cart("d", 40)  # d's next change makes it larger: b goes
    cache.written(grown)
    assert [_get(cache, cart_id) is not None for cart_id in "bcd"] == [False, True, True]
    assert cache.bytes == footprint(carts["c"]) + footprint(grown)
    cache.forget("c")
    cache.written(grown.model_copy(update={"state": CartState.COMPLETED}))
    assert (len(cache), cache.bytes) == (0, 0)


def test_a_cart_larger_than_all_the_room_is_not_kept() -> None:
    small, large = _large_cart("a", 1), _large_cart("b", 50)
    cache = CartCache(100, CollectorRegistry(), footprint(large) - 1)
    cache.written(small)
    cache.written(large)
    assert _get(cache, "b") is None
    assert _get(cache, "a") is small
    cache.written(_large_cart("a", 50))  # a grows past the room: its old cached cart goes too
    assert (len(cache), cache.bytes) == (0, 0)
