"""Cart operations as pure functions: cart in, new cart out; refusals change nothing.

Expected amounts are worked out by hand in the comments next to them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from cart.domain.idempotency_keys import (
    KEYS_KEPT,
    AlreadyAppliedError,
    applied,
    check_not_applied,
    with_key,
)
from cart.domain.model import Cart, DiscountType, LineItem, TaxRule, TaxType
from cart.domain.operations import (
    ItemInfo,
    ItemRequest,
    PricingPolicy,
    add_cart_discount,
    add_items,
    add_line_discount,
    add_payment,
    bill,
    cancel,
    cancel_line,
    change_quantity,
    change_unit_price,
    check_billable,
    check_cancellable,
    new_cart,
    resume_item_entry,
    subtotal,
)
from cart.domain.pricing import DiscountExceedsAmountError
from cart.domain.states import ActionNotAllowedError, CartState
from pos_commons.errors import AppError, ConflictError, NotFoundError, UnprocessableError
from pos_commons.money import format_decimal
from tests.unit.cart import catalog
from tests.unit.cart.catalog import NOW, POLICY, payment_method, tax_rule

LATER = NOW + timedelta(hours=2)

AMOUNT = DiscountType.AMOUNT
PERCENT = DiscountType.PERCENT

EXEMPT = tax_rule("T00", TaxType.EXEMPT, "0", name="Exempt")
EXT10 = tax_rule("T10", TaxType.EXTERNAL, "10", name="VAT 10%")


def item(
    code: str,
    unit_price: str,
    *,
    restricted: bool = False,
    deleted: bool = False,
    tax_rule: TaxRule = EXEMPT,
) -> ItemInfo:
    """Texts of its own for each field, so a line's copy of each is told apart."""
    return catalog.item(
        code, unit_price, tax_rule=tax_rule, restricted=restricted, deleted=deleted,
        description=f"Description of {code}", short_description=f"Short {code}",
        category_code=f"CAT-{code}",
    )  # fmt: skip


APPLE = item("APPLE", "1.20")
BREAD = item("BREAD", "2.50")
MILK = item("MILK", "0.99")
TEA = item("TEA", "4.00", tax_rule=EXT10)
TOBACCO = item("TOBACCO", "9.00", restricted=True)
FREEBIE = item("FREEBIE", "0.00")
GONE = item("GONE", "1.00", deleted=True)
GONE_TOO = item("GONE_TOO", "1.00", deleted=True)
ITEMS = {
    info.item_code: info for info in (APPLE, BREAD, MILK, TEA, TOBACCO, FREEBIE, GONE, GONE_TOO)
}


CASH = payment_method("01", "Cash", change=True, exceed=True)
CARD = payment_method("02", "Card", change=False, exceed=False)
VOUCHER = payment_method("03", "Voucher", change=False, exceed=True)
CHEQUE = payment_method("04", "Cheque", change=False, exceed=False, active=False)


def empty() -> Cart:
    return new_cart("cart-1", "tenant-1", "store-1", 7, NOW, LATER, POLICY)


def req(code: str, quantity: int = 1, unit_price: str | None = None) -> ItemRequest:
    return ItemRequest(
        item_code=code,
        quantity=quantity,
        unit_price=None if unit_price is None else Decimal(unit_price),
    )


def entering(*requests: ItemRequest, policy: PricingPolicy = POLICY) -> Cart:
    return add_items(empty(), list(requests), ITEMS, policy)


def basket() -> Cart:
    """EnteringItem: 2 x APPLE 1.20 = 2.40 and 1 x BREAD 2.50; total 4.90 (exempt)."""
    return entering(req("APPLE", 2), req("BREAD"))


def paying() -> Cart:
    """Paying with the basket: balance 4.90."""
    return subtotal(basket(), POLICY)


def paid() -> Cart:
    """Paying, fully paid in cash: 4.90."""
    return add_payment(paying(), CASH, Decimal("4.90"), POLICY)


def completed() -> Cart:
    return bill(paid(), 1001, "tx-1001")


def cancelled() -> Cart:
    return cancel(basket(), 1002, "tx-1002")


def line(cart: Cart, line_no: int) -> LineItem:
    return next(candidate for candidate in cart.lines if candidate.line_no == line_no)


# --- new_cart ------------------------------------------------------------------------------


def test_new_cart_is_idle_and_empty() -> None:
    cart = empty()
    assert cart.state is CartState.IDLE
    assert cart.cart_id == "cart-1"
    assert cart.tenant_id == "tenant-1"
    assert cart.store_code == "store-1"
    assert cart.terminal_no == 7
    assert cart.version == 1
    assert cart.lines == []
    assert cart.payments == []
    assert cart.cart_discounts == []
    assert cart.totals.total_amount == Decimal("0")
    assert cart.totals.balance_due == Decimal("0")
    assert cart.created_at == NOW
    assert cart.updated_at == NOW
    assert cart.expires_at == LATER
    assert cart.receipt_no is None
    assert cart.transaction_id is None


MONEY_TOTALS = (
    "gross_amount",
    "line_discount_total",
    "cart_discount_total",
    "net_amount",
    "external_tax_total",
    "internal_tax_total",
    "total_amount",
    "paid_amount",
    "change_amount",
    "balance_due",
    "refund_amount",
)


def money_totals(cart: Cart) -> dict[str, str]:
    """The cart's money totals as the wire shows them."""
    return {name: format_decimal(getattr(cart.totals, name)) for name in MONEY_TOTALS}


@pytest.mark.parametrize(("money_digits", "zero"), [(2, "0.00"), (3, "0.000"), (0, "0")])
def test_a_new_cart_shows_zero_at_the_money_precision(money_digits: int, zero: str) -> None:
    # Compared as text: "0" and "0.00" are equal numbers but not the same on the wire.
    policy = PricingPolicy(money_digits=money_digits)
    cart = new_cart("cart-1", "tenant-1", "store-1", 7, NOW, LATER, policy)
    assert money_totals(cart) == dict.fromkeys(MONEY_TOTALS, zero)


# --- add_items -----------------------------------------------------------------------------


def test_add_items_to_an_idle_cart() -> None:
    cart = basket()
    assert cart.state is CartState.ENTERING_ITEM
    assert [entry.line_no for entry in cart.lines] == [1, 2]
    apple = line(cart, 1)
    assert apple.item_code == "APPLE"
    assert apple.description == "Description of APPLE"
    assert apple.short_description == "Short APPLE"
    assert apple.category_code == "CAT-APPLE"
    assert apple.tax_rule == EXEMPT
    assert apple.is_discount_restricted is False
    assert apple.quantity == 2
    assert apple.unit_price == Decimal("1.20")
    assert apple.original_unit_price == Decimal("1.20")
    assert apple.is_unit_price_changed is False
    assert apple.is_cancelled is False
    assert apple.amount == Decimal("2.40")  # 2 x 1.20
    assert line(cart, 2).amount == Decimal("2.50")  # 1 x 2.50
    assert cart.totals.line_count == 2
    assert cart.totals.item_count == 3  # 2 + 1
    assert cart.totals.total_amount == Decimal("4.90")  # 2.40 + 2.50
    assert cart.totals.balance_due == Decimal("4.90")


def test_add_items_is_priced_with_taxes() -> None:
    cart = entering(req("TEA", 3))
    assert line(cart, 1).tax_rule == EXT10
    assert cart.totals.net_amount == Decimal("12.00")  # 3 x 4.00
    assert cart.totals.external_tax_total == Decimal("1.20")  # 12.00 x 10%
    assert cart.totals.total_amount == Decimal("13.20")  # 12.00 + 1.20


def test_add_items_keeps_the_restricted_flag() -> None:
    cart = entering(req("TOBACCO"))
    assert line(cart, 1).is_discount_restricted is True


def test_line_numbers_continue_after_existing_lines_and_are_never_reused() -> None:
    cart = basket()  # lines 1, 2
    cart = add_items(cart, [req("MILK")], ITEMS, POLICY)
    assert [entry.line_no for entry in cart.lines] == [1, 2, 3]
    cart = cancel_line(cart, 3, POLICY)
    cart = cancel_line(cart, 2, POLICY)
    cart = add_items(cart, [req("TEA"), req("BREAD")], ITEMS, POLICY)
    # cancelled lines stay in the cart and keep their numbers: the new ones are 4 and 5
    assert [entry.line_no for entry in cart.lines] == [1, 2, 3, 4, 5]
    assert [entry.item_code for entry in cart.lines] == ["APPLE", "BREAD", "MILK", "TEA", "BREAD"]
    assert [entry.is_cancelled for entry in cart.lines] == [False, True, True, False, False]


def test_add_items_with_a_unit_price_override() -> None:
    cart = entering(req("APPLE", 3, unit_price="1.00"))
    apple = line(cart, 1)
    assert apple.unit_price == Decimal("1.00")
    assert apple.original_unit_price == Decimal("1.20")
    assert apple.is_unit_price_changed is True
    assert apple.amount == Decimal("3.00")  # 3 x 1.00


def test_add_items_with_an_override_equal_to_the_master_price_is_not_a_change() -> None:
    cart = entering(req("APPLE", 1, unit_price="1.20"))
    assert line(cart, 1).is_unit_price_changed is False


def test_add_items_with_a_three_decimal_override_rounds_the_amount() -> None:
    cart = entering(req("BREAD", 3, unit_price="12.345"))
    assert line(cart, 1).amount == Decimal("37.04")  # 3 x 12.345 = 37.035 -> 37.04 (half-up)


def test_add_items_refuses_deleted_items() -> None:
    cart = basket()
    before = cart.model_dump()
    with pytest.raises(UnprocessableError) as info:
        add_items(
            cart, [req("GONE_TOO"), req("APPLE"), req("GONE"), req("GONE_TOO")], ITEMS, POLICY
        )
    assert info.value.code == "ITEM_NOT_SELLABLE"
    assert info.value.status_code == 422
    assert info.value.details == {"itemCodes": ["GONE", "GONE_TOO"]}  # sorted, once each
    assert cart.model_dump() == before


def test_add_items_line_limit() -> None:
    policy = PricingPolicy(max_lines=3)
    cart = entering(req("APPLE"), req("BREAD"), policy=policy)
    with pytest.raises(UnprocessableError) as info:
        add_items(cart, [req("MILK"), req("TEA")], ITEMS, policy)  # 2 + 2 = 4 > 3
    assert info.value.code == "CART_LINE_LIMIT"
    assert info.value.status_code == 422
    assert len(cart.lines) == 2
    full = add_items(cart, [req("MILK")], ITEMS, policy)  # 2 + 1 = 3: at the limit
    assert len(full.lines) == 3
    with pytest.raises(UnprocessableError) as again:
        add_items(full, [req("TEA")], ITEMS, policy)
    assert again.value.code == "CART_LINE_LIMIT"


def test_add_items_in_one_request_beyond_the_limit() -> None:
    with pytest.raises(UnprocessableError) as info:
        entering(req("APPLE"), req("BREAD"), req("MILK"), policy=PricingPolicy(max_lines=2))
    assert info.value.code == "CART_LINE_LIMIT"


def test_add_items_refuses_unknown_items() -> None:
    cart = basket()
    before = cart.model_dump()
    with pytest.raises(NotFoundError) as info:
        add_items(cart, [req("ZZZ"), req("APPLE"), req("NOPE"), req("ZZZ")], ITEMS, POLICY)
    assert info.value.code == "ITEM_NOT_FOUND"
    assert info.value.status_code == 404
    assert info.value.details == {"itemCodes": ["NOPE", "ZZZ"]}  # sorted, once each
    assert cart.model_dump() == before


def test_an_unknown_item_is_reported_before_anything_else_in_the_request() -> None:
    # NOPE is unknown (and its quantity invalid), GONE is no longer sold: the unknown code
    # is what the terminal must correct first.
    with pytest.raises(NotFoundError) as info:
        add_items(basket(), [req("GONE"), req("NOPE", 0)], ITEMS, POLICY)
    assert info.value.code == "ITEM_NOT_FOUND"
    assert info.value.details == {"itemCodes": ["NOPE"]}


@pytest.mark.parametrize("quantity", [0, -1, 10_000])
def test_a_quantity_outside_1_to_9999_is_refused(quantity: int) -> None:
    cart = basket()
    before = cart.model_dump()
    with pytest.raises(UnprocessableError) as added:
        add_items(cart, [req("MILK", quantity)], ITEMS, POLICY)
    with pytest.raises(UnprocessableError) as changed:
        change_quantity(cart, 1, quantity, POLICY)
    for info in (added, changed):
        assert info.value.code == "INVALID_QUANTITY"
        assert info.value.status_code == 422
    assert cart.model_dump() == before


def test_the_quantity_limits_1_and_9999_are_allowed() -> None:
    cart = entering(req("MILK", 9_999))
    assert line(cart, 1).amount == Decimal("9899.01")  # 9999 x 0.99 = 9900 - 0.99
    cart = change_quantity(cart, 1, 1, POLICY)
    assert line(cart, 1).amount == Decimal("0.99")
    cart = change_quantity(cart, 1, 9_999, POLICY)
    assert cart.totals.item_count == 9_999
    assert cart.totals.total_amount == Decimal("9899.01")


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (paying, "ADD_ITEMS_NOT_ALLOWED_IN_PAYING"),
        (completed, "ADD_ITEMS_NOT_ALLOWED_IN_COMPLETED"),
        (cancelled, "ADD_ITEMS_NOT_ALLOWED_IN_CANCELLED"),
    ],
)
def test_add_items_is_refused_outside_item_entry(make: Callable[[], Cart], code: str) -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        add_items(make(), [req("APPLE")], ITEMS, POLICY)
    assert info.value.code == code
    assert info.value.status_code == 409


# --- cancel_line ---------------------------------------------------------------------------


def test_cancel_line() -> None:
    cart = cancel_line(basket(), 1, POLICY)
    assert cart.state is CartState.ENTERING_ITEM
    assert line(cart, 1).is_cancelled is True
    assert line(cart, 1).net_amount == Decimal("0")
    assert line(cart, 2).is_cancelled is False
    assert cart.totals.line_count == 1
    assert cart.totals.item_count == 1
    assert cart.totals.total_amount == Decimal("2.50")  # 4.90 - 2.40
    assert len(cart.lines) == 2  # the line stays, marked cancelled


def test_cancel_unknown_line() -> None:
    with pytest.raises(NotFoundError) as info:
        cancel_line(basket(), 99, POLICY)
    assert info.value.code == "LINE_NOT_FOUND"
    assert info.value.status_code == 404
    assert info.value.details == {"lineNo": 99}


def test_cancel_a_cancelled_line() -> None:
    cart = cancel_line(basket(), 2, POLICY)
    with pytest.raises(ConflictError) as info:
        cancel_line(cart, 2, POLICY)
    assert info.value.code == "LINE_CANCELLED"
    assert info.value.status_code == 409
    assert info.value.details == {"lineNo": 2}


def test_a_cancelled_line_keeps_no_discount() -> None:
    cart = add_line_discount(basket(), 2, AMOUNT, Decimal("0.50"), POLICY)  # 2.50 - 0.50
    assert line(cart, 2).discount_amount == Decimal("0.50")
    cart = cancel_line(cart, 2, POLICY)
    bread = line(cart, 2)
    # A cancelled line counts for nothing: no discount, no cart-discount share, no net.
    assert [
        format_decimal(bread.discount_amount),
        format_decimal(bread.cart_discount_amount),
        format_decimal(bread.net_amount),
    ] == ["0.00", "0.00", "0.00"]
    assert format_decimal(cart.totals.line_discount_total) == "0.00"
    assert cart.totals.total_amount == Decimal("2.40")  # the apples only: 2 x 1.20


def test_cancelling_every_line_brings_the_totals_back_to_zero() -> None:
    cart = add_line_discount(basket(), 1, PERCENT, Decimal("50"), POLICY)  # 50% of 2.40
    cart = cancel_line(cancel_line(cart, 1, POLICY), 2, POLICY)
    assert cart.totals.line_count == 0
    assert cart.totals.item_count == 0
    assert money_totals(cart) == dict.fromkeys(MONEY_TOTALS, "0.00")


LINE_OPERATIONS: list[tuple[str, Callable[[Cart, int], Cart]]] = [
    ("cancel_line", lambda cart, no: cancel_line(cart, no, POLICY)),
    ("change_quantity", lambda cart, no: change_quantity(cart, no, 5, POLICY)),
    ("change_unit_price", lambda cart, no: change_unit_price(cart, no, Decimal("1.00"), POLICY)),
    (
        "add_line_discount",
        lambda cart, no: add_line_discount(cart, no, AMOUNT, Decimal("0.10"), POLICY),
    ),
]


@pytest.mark.parametrize(("name", "operation"), LINE_OPERATIONS)
def test_line_operations_refuse_cancelled_lines(
    name: str, operation: Callable[[Cart, int], Cart]
) -> None:
    cart = cancel_line(basket(), 1, POLICY)
    before = cart.model_dump()
    with pytest.raises(ConflictError) as info:
        operation(cart, 1)
    assert info.value.code == "LINE_CANCELLED", name
    assert info.value.status_code == 409
    assert cart.model_dump() == before


@pytest.mark.parametrize(("name", "operation"), LINE_OPERATIONS)
def test_line_operations_refuse_unknown_lines(
    name: str, operation: Callable[[Cart, int], Cart]
) -> None:
    with pytest.raises(NotFoundError) as info:
        operation(basket(), 3)
    assert info.value.code == "LINE_NOT_FOUND", name
    assert info.value.status_code == 404


@pytest.mark.parametrize(("name", "operation"), LINE_OPERATIONS)
def test_line_operations_are_refused_while_paying(
    name: str, operation: Callable[[Cart, int], Cart]
) -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        operation(paying(), 1)
    assert info.value.code.endswith("_NOT_ALLOWED_IN_PAYING"), name


def test_the_state_is_checked_before_the_line() -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        cancel_line(empty(), 99, POLICY)  # Idle: no line 99 either, but the state comes first
    assert info.value.code == "CANCEL_LINE_NOT_ALLOWED_IN_IDLE"


# --- change_quantity -----------------------------------------------------------------------


def test_change_quantity() -> None:
    cart = change_quantity(basket(), 1, 5, POLICY)
    assert cart.state is CartState.ENTERING_ITEM
    assert line(cart, 1).quantity == 5
    assert line(cart, 1).amount == Decimal("6.00")  # 5 x 1.20
    assert cart.totals.item_count == 6  # 5 + 1
    assert cart.totals.total_amount == Decimal("8.50")  # 6.00 + 2.50


def test_change_quantity_recomputes_a_percent_discount() -> None:
    cart = entering(req("BREAD", 2))  # 2 x 2.50 = 5.00
    cart = add_line_discount(cart, 1, PERCENT, Decimal("10"), POLICY)  # 0.50
    cart = change_quantity(cart, 1, 3, POLICY)
    assert line(cart, 1).amount == Decimal("7.50")  # 3 x 2.50
    assert line(cart, 1).discount_amount == Decimal("0.75")  # 10% of 7.50
    assert line(cart, 1).net_amount == Decimal("6.75")  # 7.50 - 0.75


def test_change_quantity_below_an_amount_discount_is_refused() -> None:
    cart = entering(req("BREAD", 2))  # 5.00
    cart = add_line_discount(cart, 1, AMOUNT, Decimal("4.00"), POLICY)
    before = cart.model_dump()
    with pytest.raises(DiscountExceedsAmountError) as info:
        change_quantity(cart, 1, 1, POLICY)  # 1 x 2.50 = 2.50 < 4.00
    assert info.value.code == "DISCOUNT_EXCEEDS_AMOUNT"
    assert cart.model_dump() == before


# --- change_unit_price ---------------------------------------------------------------------


def test_change_unit_price() -> None:
    cart = change_unit_price(basket(), 1, Decimal("0.95"), POLICY)
    apple = line(cart, 1)
    assert apple.unit_price == Decimal("0.95")
    assert apple.original_unit_price == Decimal("1.20")
    assert apple.is_unit_price_changed is True
    assert apple.amount == Decimal("1.90")  # 2 x 0.95
    assert cart.totals.total_amount == Decimal("4.40")  # 1.90 + 2.50
    assert cart.state is CartState.ENTERING_ITEM


def test_changing_the_unit_price_back_clears_the_flag() -> None:
    cart = change_unit_price(basket(), 1, Decimal("0.95"), POLICY)
    cart = change_unit_price(cart, 1, Decimal("1.20"), POLICY)
    assert line(cart, 1).is_unit_price_changed is False
    assert line(cart, 1).original_unit_price == Decimal("1.20")
    assert line(cart, 1).amount == Decimal("2.40")  # 2 x 1.20


def test_changing_an_overridden_price_back_to_the_master_price_clears_the_flag() -> None:
    cart = entering(req("APPLE", 1, unit_price="0.50"))
    assert line(cart, 1).is_unit_price_changed is True
    cart = change_unit_price(cart, 1, Decimal("1.20"), POLICY)
    assert line(cart, 1).is_unit_price_changed is False


def test_change_unit_price_rounds_the_line_amount() -> None:
    cart = change_unit_price(entering(req("MILK", 3)), 1, Decimal("0.333"), POLICY)
    assert line(cart, 1).amount == Decimal("1.00")  # 3 x 0.333 = 0.999 -> 1.00


def test_change_unit_price_below_a_line_discount_is_refused() -> None:
    cart = add_line_discount(basket(), 2, AMOUNT, Decimal("2.00"), POLICY)
    with pytest.raises(DiscountExceedsAmountError):
        change_unit_price(cart, 2, Decimal("1.99"), POLICY)  # 1.99 < 2.00


# --- add_line_discount ---------------------------------------------------------------------


def test_add_amount_line_discount() -> None:
    cart = add_line_discount(basket(), 2, AMOUNT, Decimal("0.50"), POLICY)
    bread = line(cart, 2)
    assert cart.state is CartState.ENTERING_ITEM
    assert len(bread.discounts) == 1
    assert bread.discounts[0].discount_type is AMOUNT
    assert bread.discounts[0].value == Decimal("0.50")
    assert bread.discounts[0].amount == Decimal("0.50")
    assert bread.net_amount == Decimal("2.00")  # 2.50 - 0.50
    assert cart.totals.line_discount_total == Decimal("0.50")
    assert cart.totals.total_amount == Decimal("4.40")  # 4.90 - 0.50


def test_add_percent_line_discounts_accumulate() -> None:
    cart = add_line_discount(basket(), 1, PERCENT, Decimal("25"), POLICY)  # 25% of 2.40 = 0.60
    cart = add_line_discount(cart, 1, PERCENT, Decimal("12.5"), POLICY)  # 12.5% of 2.40 = 0.30
    apple = line(cart, 1)
    assert [d.amount for d in apple.discounts] == [Decimal("0.60"), Decimal("0.30")]
    assert apple.discount_amount == Decimal("0.90")  # 0.60 + 0.30
    assert apple.net_amount == Decimal("1.50")  # 2.40 - 0.90


def test_a_hundred_percent_line_discount_is_allowed() -> None:
    cart = add_line_discount(basket(), 1, PERCENT, Decimal("100"), POLICY)
    assert line(cart, 1).net_amount == Decimal("0")  # 2.40 - 2.40
    assert cart.totals.total_amount == Decimal("2.50")


def test_an_amount_line_discount_may_be_above_a_hundred() -> None:
    cart = entering(req("TEA", 50))  # 50 x 4.00 = 200.00
    cart = add_line_discount(cart, 1, AMOUNT, Decimal("150"), POLICY)
    assert line(cart, 1).net_amount == Decimal("50.00")  # 200.00 - 150


def test_line_discount_on_a_restricted_item_is_refused() -> None:
    cart = entering(req("APPLE"), req("TOBACCO"))
    with pytest.raises(UnprocessableError) as info:
        add_line_discount(cart, 2, AMOUNT, Decimal("1.00"), POLICY)
    assert info.value.code == "DISCOUNT_RESTRICTED_ITEM"
    assert info.value.status_code == 422
    assert info.value.details == {"lineNo": 2, "itemCode": "TOBACCO"}


@pytest.mark.parametrize(
    ("discount_type", "value"),
    [
        (AMOUNT, "0"),
        (AMOUNT, "-1.00"),
        (PERCENT, "0"),
        (PERCENT, "-5"),
        (PERCENT, "100.01"),
        (PERCENT, "150"),
    ],
)
def test_invalid_line_discount(discount_type: DiscountType, value: str) -> None:
    cart = basket()
    before = cart.model_dump()
    with pytest.raises(UnprocessableError) as info:
        add_line_discount(cart, 1, discount_type, Decimal(value), POLICY)
    assert info.value.code == "INVALID_DISCOUNT"
    assert info.value.status_code == 422
    assert cart.model_dump() == before


def test_line_discount_exceeding_the_line_is_refused() -> None:
    cart = add_line_discount(basket(), 2, AMOUNT, Decimal("2.00"), POLICY)
    with pytest.raises(DiscountExceedsAmountError) as info:
        add_line_discount(cart, 2, AMOUNT, Decimal("0.51"), POLICY)  # 2.00 + 0.51 > 2.50
    assert info.value.code == "DISCOUNT_EXCEEDS_AMOUNT"
    assert info.value.status_code == 422


def test_an_amount_discount_is_money_and_a_percentage_keeps_its_places() -> None:
    cart = add_line_discount(basket(), 2, AMOUNT, Decimal("1"), POLICY)
    cart = add_line_discount(cart, 1, PERCENT, Decimal("10"), POLICY)
    cart = add_line_discount(cart, 1, PERCENT, Decimal("12.345"), POLICY)
    # an amount is written at the money precision, a rate as it was given
    assert format_decimal(line(cart, 2).discounts[0].value) == "1.00"
    assert [format_decimal(d.value) for d in line(cart, 1).discounts] == ["10", "12.345"]
    # 10% of 2.40 = 0.24; 12.345% of 2.40 = 0.29628 -> 0.30 (a rate may be finer than money)
    assert [d.amount for d in line(cart, 1).discounts] == [Decimal("0.24"), Decimal("0.30")]
    assert cart.totals.total_amount == Decimal("3.36")  # 4.90 - 1.00 - 0.24 - 0.30


@pytest.mark.parametrize("value", ["0.005", "1.001", "0.0001"])
def test_an_amount_discount_finer_than_the_money_precision_is_refused(value: str) -> None:
    cart = basket()
    before = cart.model_dump()
    with pytest.raises(UnprocessableError) as on_line:
        add_line_discount(cart, 1, AMOUNT, Decimal(value), POLICY)
    with pytest.raises(UnprocessableError) as on_cart:
        add_cart_discount(paying(), AMOUNT, Decimal(value), POLICY)
    for info in (on_line, on_cart):
        assert info.value.code == "INVALID_DISCOUNT"
        assert info.value.status_code == 422
    assert cart.model_dump() == before


def test_an_amount_discount_has_the_places_of_a_finer_money_precision() -> None:
    policy = PricingPolicy(money_digits=3)
    cart = entering(req("APPLE", 2), policy=policy)  # 2 x 1.20 = 2.400
    cart = add_line_discount(cart, 1, AMOUNT, Decimal("0.005"), policy)
    assert format_decimal(line(cart, 1).net_amount) == "2.395"  # 2.400 - 0.005


def test_an_amount_discount_above_the_limit_is_refused() -> None:
    limited = PricingPolicy(max_amount=Decimal("100"))
    cart = entering(req("TEA", 50), policy=limited)  # 50 x 4.00 = 200.00
    at_the_limit = add_line_discount(cart, 1, AMOUNT, Decimal("100"), limited)
    assert line(at_the_limit, 1).net_amount == Decimal("100.00")  # 200.00 - 100
    with pytest.raises(UnprocessableError) as info:
        add_line_discount(cart, 1, AMOUNT, Decimal("100.01"), limited)
    assert info.value.code == "AMOUNT_TOO_LARGE"
    assert info.value.details == {"maxAmount": Decimal("100")}


# --- subtotal ------------------------------------------------------------------------------


def test_subtotal_moves_to_paying() -> None:
    before = basket()
    cart = subtotal(before, POLICY)
    assert cart.state is CartState.PAYING
    assert cart.totals == before.totals
    assert cart.lines == before.lines


def test_subtotal_with_every_line_cancelled_is_refused() -> None:
    cart = cancel_line(cancel_line(basket(), 1, POLICY), 2, POLICY)
    with pytest.raises(UnprocessableError) as info:
        subtotal(cart, POLICY)
    assert info.value.code == "NO_ACTIVE_LINES"
    assert info.value.status_code == 422


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (empty, "SUBTOTAL_NOT_ALLOWED_IN_IDLE"),
        (paying, "SUBTOTAL_NOT_ALLOWED_IN_PAYING"),
    ],
)
def test_subtotal_is_refused_outside_item_entry(make: Callable[[], Cart], code: str) -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        subtotal(make(), POLICY)
    assert info.value.code == code


# --- add_cart_discount ---------------------------------------------------------------------


def test_add_amount_cart_discount() -> None:
    cart = add_cart_discount(paying(), AMOUNT, Decimal("1.00"), POLICY)
    assert cart.state is CartState.PAYING
    assert len(cart.cart_discounts) == 1
    assert cart.cart_discounts[0].amount == Decimal("1.00")
    # base 2.40 + 2.50 = 4.90: 1.00 x 2.40/4.90 = 0.4897.. (rem .0097),
    # 1.00 x 2.50/4.90 = 0.5102.. (rem .0002); floors 0.48 + 0.51 = 0.99, 1 unit -> line 1
    assert line(cart, 1).cart_discount_amount == Decimal("0.49")
    assert line(cart, 2).cart_discount_amount == Decimal("0.51")
    assert cart.totals.cart_discount_total == Decimal("1.00")
    assert cart.totals.total_amount == Decimal("3.90")  # 4.90 - 1.00
    assert cart.totals.balance_due == Decimal("3.90")


def test_add_percent_cart_discount_over_eligible_lines_only() -> None:
    cart = subtotal(entering(req("BREAD", 4), req("TOBACCO")), POLICY)  # 10.00 + 9.00
    cart = add_cart_discount(cart, PERCENT, Decimal("10"), POLICY)
    # 10% of the eligible 10.00 (not of 19.00) = 1.00, all on line 1
    assert cart.totals.cart_discount_total == Decimal("1.00")
    assert line(cart, 1).cart_discount_amount == Decimal("1.00")
    assert line(cart, 2).cart_discount_amount == Decimal("0")
    assert cart.totals.total_amount == Decimal("18.00")  # 19.00 - 1.00


def test_cart_discounts_accumulate() -> None:
    cart = add_cart_discount(paying(), AMOUNT, Decimal("0.40"), POLICY)
    cart = add_cart_discount(cart, PERCENT, Decimal("10"), POLICY)
    # 0.40 + 10% of 4.90 = 0.49 -> 0.89
    assert [d.amount for d in cart.cart_discounts] == [Decimal("0.40"), Decimal("0.49")]
    assert cart.totals.cart_discount_total == Decimal("0.89")
    assert cart.totals.total_amount == Decimal("4.01")  # 4.90 - 0.89


def test_cart_discount_without_discountable_lines_is_refused() -> None:
    cart = entering(req("TOBACCO"), req("FREEBIE"), req("APPLE"))
    cart = subtotal(cancel_line(cart, 3, POLICY), POLICY)  # restricted, zero, cancelled
    with pytest.raises(UnprocessableError) as info:
        add_cart_discount(cart, AMOUNT, Decimal("1.00"), POLICY)
    assert info.value.code == "NO_DISCOUNTABLE_LINES"
    assert info.value.status_code == 422


def test_cart_discount_after_a_payment_is_refused() -> None:
    cart = add_payment(paying(), CARD, Decimal("1.00"), POLICY)
    before = cart.model_dump()
    with pytest.raises(ConflictError) as info:
        add_cart_discount(cart, AMOUNT, Decimal("0.50"), POLICY)
    assert info.value.code == "PAYMENTS_ALREADY_MADE"
    assert info.value.status_code == 409
    assert cart.model_dump() == before


@pytest.mark.parametrize(
    ("discount_type", "value"),
    [(AMOUNT, "0"), (AMOUNT, "-0.01"), (PERCENT, "0"), (PERCENT, "-1"), (PERCENT, "101")],
)
def test_invalid_cart_discount(discount_type: DiscountType, value: str) -> None:
    with pytest.raises(UnprocessableError) as info:
        add_cart_discount(paying(), discount_type, Decimal(value), POLICY)
    assert info.value.code == "INVALID_DISCOUNT"


def test_cart_discount_exceeding_the_eligible_net_is_refused() -> None:
    cart = paying()
    before = cart.model_dump()
    with pytest.raises(DiscountExceedsAmountError) as info:
        add_cart_discount(cart, AMOUNT, Decimal("4.91"), POLICY)  # 4.91 > 4.90
    assert info.value.code == "DISCOUNT_EXCEEDS_AMOUNT"
    assert cart.model_dump() == before


def test_cart_discount_is_refused_during_item_entry() -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        add_cart_discount(basket(), AMOUNT, Decimal("1.00"), POLICY)
    assert info.value.code == "ADD_CART_DISCOUNT_NOT_ALLOWED_IN_ENTERING_ITEM"
    assert info.value.status_code == 409


# --- add_payment ---------------------------------------------------------------------------


def test_cash_for_the_exact_balance() -> None:
    cart = paid()
    assert cart.state is CartState.PAYING
    assert len(cart.payments) == 1
    cash = cart.payments[0]
    assert cash.payment_no == 1
    assert cash.payment_code == "01"
    assert cash.name == "Cash"
    assert cash.amount == Decimal("4.90")
    assert cash.change == Decimal("0")
    assert cart.totals.paid_amount == Decimal("4.90")
    assert cart.totals.balance_due == Decimal("0")


def test_cash_above_the_balance_gives_change() -> None:
    cart = add_payment(paying(), CASH, Decimal("10.00"), POLICY)
    assert cart.payments[0].change == Decimal("5.10")  # 10.00 - 4.90
    assert cart.totals.paid_amount == Decimal("4.90")  # 10.00 - 5.10
    assert cart.totals.change_amount == Decimal("5.10")
    assert cart.totals.balance_due == Decimal("0")


def test_a_whole_tender_is_written_at_the_money_precision() -> None:
    cart = add_payment(paying(), CASH, Decimal("10"), POLICY)
    payment = cart.payments[0]
    assert (format_decimal(payment.amount), format_decimal(payment.change)) == ("10.00", "5.10")
    assert format_decimal(cart.totals.balance_due) == "0.00"


def test_amounts_above_the_limit_are_refused() -> None:
    limited = PricingPolicy(max_amount=Decimal("1000"))
    for amount in ("1000.01", "5000"):
        with pytest.raises(UnprocessableError) as refused:
            add_payment(paying(), CASH, Decimal(amount), limited)
        assert refused.value.code == "AMOUNT_TOO_LARGE"
        with pytest.raises(UnprocessableError) as refused:
            change_unit_price(basket(), 1, Decimal(amount), limited)
        assert refused.value.code == "AMOUNT_TOO_LARGE"
    assert add_payment(paying(), CASH, Decimal("1000"), limited).totals.change_amount == Decimal(
        "995.10"
    )
    # What is owed can always be paid, however large: the limit is for what is tendered above.
    tiny = PricingPolicy(max_amount=Decimal("1"))
    assert add_payment(paying(), CARD, Decimal("4.90"), tiny).totals.balance_due == 0
    with pytest.raises(UnprocessableError) as refused:
        add_payment(paying(), CASH, Decimal("4.91"), tiny)
    assert refused.value.code == "AMOUNT_TOO_LARGE"


def test_card_then_cash() -> None:
    cart = add_payment(paying(), CARD, Decimal("3.00"), POLICY)
    assert cart.totals.balance_due == Decimal("1.90")  # 4.90 - 3.00
    cart = add_payment(cart, CASH, Decimal("2.00"), POLICY)
    assert [p.payment_no for p in cart.payments] == [1, 2]
    assert cart.payments[1].change == Decimal("0.10")  # 2.00 - 1.90
    assert cart.totals.paid_amount == Decimal("4.90")  # 3.00 + 2.00 - 0.10
    assert cart.totals.change_amount == Decimal("0.10")
    assert cart.totals.balance_due == Decimal("0")


def test_card_for_exactly_the_balance() -> None:
    cart = add_payment(paying(), CARD, Decimal("4.90"), POLICY)
    assert cart.totals.balance_due == Decimal("0")
    assert cart.payments[0].change == Decimal("0")


def test_card_cannot_exceed_the_balance() -> None:
    cart = paying()
    before = cart.model_dump()
    with pytest.raises(UnprocessableError) as info:
        add_payment(cart, CARD, Decimal("4.91"), POLICY)
    assert info.value.code == "PAYMENT_EXCEEDS_BALANCE"
    assert info.value.status_code == 422
    assert info.value.details == {"balanceDue": Decimal("4.90"), "amount": Decimal("4.91")}
    assert cart.model_dump() == before


def test_voucher_above_the_balance_gives_no_change_and_leaves_a_negative_balance() -> None:
    cart = add_payment(paying(), VOUCHER, Decimal("5.00"), POLICY)
    assert cart.payments[0].change == Decimal("0")
    assert cart.totals.paid_amount == Decimal("5.00")
    assert cart.totals.change_amount == Decimal("0")
    assert cart.totals.balance_due == Decimal("-0.10")  # 4.90 - 5.00


def test_inactive_payment_method_is_refused() -> None:
    with pytest.raises(UnprocessableError) as info:
        add_payment(paying(), CHEQUE, Decimal("1.00"), POLICY)
    assert info.value.code == "PAYMENT_METHOD_INACTIVE"
    assert info.value.status_code == 422


@pytest.mark.parametrize("amount", ["0", "0.00", "-1.00"])
def test_non_positive_payment_is_refused(amount: str) -> None:
    with pytest.raises(UnprocessableError) as info:
        add_payment(paying(), CASH, Decimal(amount), POLICY)
    assert info.value.code == "INVALID_PAYMENT_AMOUNT"
    assert info.value.status_code == 422


@pytest.mark.parametrize(
    "make",
    [
        paid,  # balance 0
        lambda: add_payment(paying(), VOUCHER, Decimal("5.00"), POLICY),  # balance -0.10
        lambda: subtotal(entering(req("FREEBIE")), POLICY),  # total 0.00
    ],
)
def test_nothing_to_pay(make: Callable[[], Cart]) -> None:
    with pytest.raises(ConflictError) as info:
        add_payment(make(), CASH, Decimal("1.00"), POLICY)
    assert info.value.code == "NOTHING_TO_PAY"
    assert info.value.status_code == 409


def test_payment_is_refused_during_item_entry() -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        add_payment(basket(), CASH, Decimal("1.00"), POLICY)
    assert info.value.code == "ADD_PAYMENT_NOT_ALLOWED_IN_ENTERING_ITEM"


def test_payment_of_a_taxed_cart() -> None:
    cart = subtotal(entering(req("TEA", 3)), POLICY)  # 12.00 + 10% = 13.20
    cart = add_payment(cart, CASH, Decimal("20.00"), POLICY)
    assert cart.payments[0].change == Decimal("6.80")  # 20.00 - 13.20
    assert cart.totals.balance_due == Decimal("0")


def basket_at(policy: PricingPolicy) -> Cart:
    """Paying: 2 x APPLE 1.20 and 1 x BREAD 2.50, priced at the policy's money precision."""
    return subtotal(entering(req("APPLE", 2), req("BREAD"), policy=policy), policy)


@pytest.mark.parametrize(
    ("money_digits", "amount", "taken", "balance"),
    [
        (2, "1.05", "1.05", "3.85"),  # 4.90 - 1.05
        (2, "1.5", "1.50", "3.40"),  # fewer places are fine: 4.90 - 1.50
        (3, "1.005", "1.005", "3.895"),  # 4.900 - 1.005
        (0, "2", "2", "3"),  # 2.40 -> 2 and 2.50 -> 3 (half-up) = 5; 5 - 2
    ],
)
def test_a_payment_with_at_most_the_money_places_is_taken(
    money_digits: int, amount: str, taken: str, balance: str
) -> None:
    policy = PricingPolicy(money_digits=money_digits)
    cart = add_payment(basket_at(policy), CARD, Decimal(amount), policy)
    assert format_decimal(cart.payments[0].amount) == taken
    assert format_decimal(cart.totals.balance_due) == balance


@pytest.mark.parametrize(
    ("money_digits", "amount"), [(2, "1.005"), (2, "0.001"), (3, "0.0001"), (0, "1.5")]
)
def test_a_payment_finer_than_the_money_precision_is_refused(
    money_digits: int, amount: str
) -> None:
    policy = PricingPolicy(money_digits=money_digits)
    cart = basket_at(policy)
    before = cart.model_dump()
    for method in (CASH, CARD):
        with pytest.raises(UnprocessableError) as info:
            add_payment(cart, method, Decimal(amount), policy)
        assert info.value.code == "INVALID_PAYMENT_AMOUNT"
        assert info.value.status_code == 422
    assert cart.model_dump() == before


def test_a_balance_below_one_unit_blocks_the_bill_and_can_be_paid() -> None:
    cart = add_payment(paying(), CARD, Decimal("4.89"), POLICY)
    assert format_decimal(cart.totals.balance_due) == "0.01"  # 4.90 - 4.89
    with pytest.raises(ConflictError) as info:
        bill(cart, 1, "tx-1")
    assert info.value.code == "BALANCE_DUE"
    assert info.value.details == {"balanceDue": Decimal("0.01")}
    cart = add_payment(cart, CASH, Decimal("0.01"), POLICY)
    assert format_decimal(cart.totals.balance_due) == "0.00"
    assert bill(cart, 1, "tx-1").state is CartState.COMPLETED


def test_an_amount_above_the_limit_is_refused_naming_the_limit() -> None:
    limited = PricingPolicy(max_amount=Decimal("1000"))
    refusals: list[Callable[[], object]] = [
        lambda: add_payment(paying(), CASH, Decimal("1000.01"), limited),
        lambda: change_unit_price(basket(), 1, Decimal("1000.01"), limited),
        lambda: add_items(basket(), [req("MILK", 1, "1000.01")], ITEMS, limited),
    ]
    for refused in refusals:
        with pytest.raises(UnprocessableError) as info:
            refused()
        assert info.value.code == "AMOUNT_TOO_LARGE"
        assert info.value.status_code == 422
        assert info.value.details == {"maxAmount": Decimal("1000")}


# --- resume_item_entry ---------------------------------------------------------------------


def test_resume_item_entry_drops_cart_discounts() -> None:
    cart = add_cart_discount(paying(), AMOUNT, Decimal("1.00"), POLICY)
    cart = resume_item_entry(cart, POLICY)
    assert cart.state is CartState.ENTERING_ITEM
    assert cart.cart_discounts == []
    assert [entry.cart_discount_amount for entry in cart.lines] == [Decimal("0"), Decimal("0")]
    assert [entry.net_amount for entry in cart.lines] == [Decimal("2.40"), Decimal("2.50")]
    assert cart.totals.cart_discount_total == Decimal("0")
    assert cart.totals.total_amount == Decimal("4.90")


def test_resume_item_entry_keeps_line_discounts() -> None:
    cart = subtotal(add_line_discount(basket(), 2, AMOUNT, Decimal("0.50"), POLICY), POLICY)
    cart = resume_item_entry(cart, POLICY)
    assert line(cart, 2).discount_amount == Decimal("0.50")
    assert cart.totals.total_amount == Decimal("4.40")  # 4.90 - 0.50


def test_resume_item_entry_after_a_payment_is_refused() -> None:
    cart = add_payment(paying(), CARD, Decimal("1.00"), POLICY)
    before = cart.model_dump()
    with pytest.raises(ConflictError) as info:
        resume_item_entry(cart, POLICY)
    assert info.value.code == "PAYMENTS_ALREADY_MADE"
    assert info.value.status_code == 409
    assert cart.model_dump() == before


def test_resume_item_entry_is_refused_during_item_entry() -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        resume_item_entry(basket(), POLICY)
    assert info.value.code == "RESUME_ITEM_ENTRY_NOT_ALLOWED_IN_ENTERING_ITEM"


def test_items_can_be_added_after_resuming() -> None:
    cart = resume_item_entry(paying(), POLICY)
    cart = add_items(cart, [req("MILK")], ITEMS, POLICY)
    assert [entry.line_no for entry in cart.lines] == [1, 2, 3]
    assert cart.totals.total_amount == Decimal("5.89")  # 4.90 + 0.99


# --- bill ----------------------------------------------------------------------------------


def test_bill_a_paid_cart() -> None:
    cart = completed()
    assert cart.state is CartState.COMPLETED
    assert cart.receipt_no == 1001
    assert cart.transaction_id == "tx-1001"
    assert cart.totals.balance_due == Decimal("0")


def test_bill_with_a_balance_due_is_refused() -> None:
    cart = add_payment(paying(), CARD, Decimal("4.00"), POLICY)
    before = cart.model_dump()
    with pytest.raises(ConflictError) as info:
        bill(cart, 1001, "tx-1001")
    assert info.value.code == "BALANCE_DUE"
    assert info.value.status_code == 409
    assert info.value.details == {"balanceDue": Decimal("0.90")}  # 4.90 - 4.00
    with pytest.raises(ConflictError) as checked:
        check_billable(cart)
    assert checked.value.code == "BALANCE_DUE"
    assert cart.model_dump() == before


def test_bill_without_any_payment_is_refused() -> None:
    with pytest.raises(ConflictError) as info:
        bill(paying(), 1001, "tx-1001")
    assert info.value.code == "BALANCE_DUE"


def test_bill_an_overpaid_voucher_cart() -> None:
    cart = add_payment(paying(), VOUCHER, Decimal("5.00"), POLICY)  # balance -0.10
    check_billable(cart)
    assert bill(cart, 7, "tx-7").state is CartState.COMPLETED


def test_bill_a_zero_total_cart_without_payments() -> None:
    cart = subtotal(entering(req("FREEBIE", 2)), POLICY)  # 2 x 0.00
    assert cart.totals.balance_due == Decimal("0")
    assert bill(cart, 8, "tx-8").state is CartState.COMPLETED


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (basket, "BILL_NOT_ALLOWED_IN_ENTERING_ITEM"),
        (empty, "BILL_NOT_ALLOWED_IN_IDLE"),
        (completed, "BILL_NOT_ALLOWED_IN_COMPLETED"),
        (cancelled, "BILL_NOT_ALLOWED_IN_CANCELLED"),
    ],
)
def test_bill_is_refused_outside_paying(make: Callable[[], Cart], code: str) -> None:
    cart = make()
    with pytest.raises(ActionNotAllowedError) as info:
        bill(cart, 1, "tx")
    assert info.value.code == code
    assert info.value.status_code == 409
    with pytest.raises(ActionNotAllowedError):
        check_billable(cart)


# --- cancel --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        empty,
        basket,
        paying,
        lambda: add_payment(paying(), CARD, Decimal("1.00"), POLICY),
        paid,
    ],
)
def test_cancel_an_open_cart(make: Callable[[], Cart]) -> None:
    cart = make()
    check_cancellable(cart)
    result = cancel(cart, 2001, "tx-2001")
    assert result.state is CartState.CANCELLED
    assert result.receipt_no == 2001
    assert result.transaction_id == "tx-2001"
    assert result.lines == cart.lines
    assert result.payments == cart.payments


@pytest.mark.parametrize(
    ("make", "refund"),
    [
        (empty, "0.00"),
        (basket, "0.00"),  # nothing was taken
        (lambda: add_payment(paying(), CARD, Decimal("1.00"), POLICY), "1.00"),
        (paid, "4.90"),
        # 10.00 tendered, 5.10 given back as change: 4.90 was kept, 4.90 goes back
        (lambda: add_payment(paying(), CASH, Decimal("10.00"), POLICY), "4.90"),
        # a voucher gives no change: all of its 5.00 was kept
        (lambda: add_payment(paying(), VOUCHER, Decimal("5.00"), POLICY), "5.00"),
    ],
)
def test_cancel_records_what_must_be_given_back(make: Callable[[], Cart], refund: str) -> None:
    cart = make()
    result = cancel(cart, 2001, "tx-2001")
    assert format_decimal(result.totals.refund_amount) == refund
    # the rest of the totals is what the cart showed
    unchanged = result.totals.model_copy(update={"refund_amount": cart.totals.refund_amount})
    assert unchanged == cart.totals


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (completed, "CANCEL_NOT_ALLOWED_IN_COMPLETED"),
        (cancelled, "CANCEL_NOT_ALLOWED_IN_CANCELLED"),
    ],
)
def test_cancel_a_closed_cart_is_refused(make: Callable[[], Cart], code: str) -> None:
    cart = make()
    with pytest.raises(ActionNotAllowedError) as info:
        cancel(cart, 1, "tx")
    assert info.value.code == code
    with pytest.raises(ActionNotAllowedError):
        check_cancellable(cart)


# --- closed carts allow nothing ------------------------------------------------------------

EVERY_OPERATION: list[tuple[str, Callable[[Cart], object]]] = [
    ("add_items", lambda cart: add_items(cart, [req("APPLE")], ITEMS, POLICY)),
    ("cancel_line", lambda cart: cancel_line(cart, 1, POLICY)),
    ("change_quantity", lambda cart: change_quantity(cart, 1, 2, POLICY)),
    ("change_unit_price", lambda cart: change_unit_price(cart, 1, Decimal("1"), POLICY)),
    ("add_line_discount", lambda cart: add_line_discount(cart, 1, AMOUNT, Decimal("1"), POLICY)),
    ("subtotal", lambda cart: subtotal(cart, POLICY)),
    ("add_cart_discount", lambda cart: add_cart_discount(cart, AMOUNT, Decimal("1"), POLICY)),
    ("add_payment", lambda cart: add_payment(cart, CASH, Decimal("1"), POLICY)),
    ("resume_item_entry", lambda cart: resume_item_entry(cart, POLICY)),
    ("bill", lambda cart: bill(cart, 1, "tx")),
    ("cancel", lambda cart: cancel(cart, 1, "tx")),
]


@pytest.mark.parametrize("make", [completed, cancelled])
@pytest.mark.parametrize(("name", "operation"), EVERY_OPERATION)
def test_closed_carts_allow_nothing(
    make: Callable[[], Cart], name: str, operation: Callable[[Cart], object]
) -> None:
    cart = make()
    before = cart.model_dump()
    with pytest.raises(ActionNotAllowedError) as info:
        operation(cart)
    assert info.value.status_code == 409
    assert info.value.details["allowedActions"] == [], name
    assert cart.model_dump() == before


# --- refusals never mutate the input cart --------------------------------------------------


def paying_with_discount() -> Cart:
    return add_cart_discount(paying(), AMOUNT, Decimal("1.00"), POLICY)


def paying_with_card() -> Cart:
    return add_payment(paying(), CARD, Decimal("1.00"), POLICY)


REFUSALS: list[tuple[str, Callable[[], Cart], Callable[[Cart], object], str]] = [
    ("state", basket, lambda c: bill(c, 1, "tx"), "BILL_NOT_ALLOWED_IN_ENTERING_ITEM"),
    (
        "deleted item",
        basket,
        lambda c: add_items(c, [req("GONE")], ITEMS, POLICY),
        "ITEM_NOT_SELLABLE",
    ),
    (
        "line limit",
        basket,
        lambda c: add_items(c, [req("MILK")], ITEMS, PricingPolicy(max_lines=2)),
        "CART_LINE_LIMIT",
    ),
    ("unknown line", basket, lambda c: cancel_line(c, 9, POLICY), "LINE_NOT_FOUND"),
    (
        "restricted",
        lambda: entering(req("TOBACCO")),
        lambda c: add_line_discount(c, 1, PERCENT, Decimal("5"), POLICY),
        "DISCOUNT_RESTRICTED_ITEM",
    ),
    (
        "discount too big",
        basket,
        lambda c: add_line_discount(c, 1, AMOUNT, Decimal("2.41"), POLICY),
        "DISCOUNT_EXCEEDS_AMOUNT",
    ),
    (
        "no active lines",
        lambda: cancel_line(entering(req("APPLE")), 1, POLICY),
        lambda c: subtotal(c, POLICY),
        "NO_ACTIVE_LINES",
    ),
    (
        "cart discount too big",
        paying_with_discount,
        lambda c: add_cart_discount(c, AMOUNT, Decimal("3.91"), POLICY),  # 1.00 + 3.91 > 4.90
        "DISCOUNT_EXCEEDS_AMOUNT",
    ),
    (
        "card too big",
        paying_with_card,
        lambda c: add_payment(c, CARD, Decimal("3.91"), POLICY),  # balance 3.90
        "PAYMENT_EXCEEDS_BALANCE",
    ),
    (
        "resume after payment",
        paying_with_card,
        lambda c: resume_item_entry(c, POLICY),
        "PAYMENTS_ALREADY_MADE",
    ),
    ("balance due", paying_with_card, lambda c: bill(c, 1, "tx"), "BALANCE_DUE"),
]


@pytest.mark.parametrize(("name", "make", "operation", "code"), REFUSALS)
def test_a_refused_operation_never_mutates_the_cart(
    name: str, make: Callable[[], Cart], operation: Callable[[Cart], object], code: str
) -> None:
    cart = make()
    before = cart.model_dump()
    with pytest.raises(AppError) as info:
        operation(cart)
    assert info.value.code == code, name
    assert cart.model_dump() == before


def without_lines() -> Cart:
    """EnteringItem with both lines of the basket cancelled."""
    return cancel_line(cancel_line(basket(), 1, POLICY), 2, POLICY)


# The message is what the terminal shows the cashier: it names what is wrong, with the line,
# item codes and amounts concerned.
MESSAGES: list[tuple[str, Callable[[], object], str]] = [
    (
        "ITEM_NOT_FOUND",
        lambda: add_items(basket(), [req("ZZZ"), req("NOPE")], ITEMS, POLICY),
        "No item NOPE, ZZZ.",
    ),
    (
        "ITEM_NOT_SELLABLE",
        lambda: add_items(basket(), [req("GONE_TOO"), req("GONE")], ITEMS, POLICY),
        "Items no longer sold: GONE, GONE_TOO.",
    ),
    (
        "CART_LINE_LIMIT",
        lambda: add_items(basket(), [req("MILK")], ITEMS, PricingPolicy(max_lines=2)),
        "A cart holds at most 2 lines.",
    ),
    (
        "INVALID_QUANTITY",
        lambda: change_quantity(basket(), 1, 0, POLICY),
        "A quantity is between 1 and 9999 (cancel the line to remove it).",
    ),
    ("LINE_NOT_FOUND", lambda: cancel_line(basket(), 9, POLICY), "No line 9."),
    ("LINE_CANCELLED", lambda: cancel_line(without_lines(), 2, POLICY), "Line 2 is cancelled."),
    (
        "AMOUNT_TOO_LARGE",
        lambda: change_unit_price(basket(), 1, Decimal("1000000.01"), POLICY),
        "1000000.01 is more than the largest amount accepted (1000000).",
    ),
    (
        "DISCOUNT_RESTRICTED_ITEM",
        lambda: add_line_discount(entering(req("TOBACCO")), 1, AMOUNT, Decimal("1.00"), POLICY),
        "Item TOBACCO (line 1) cannot be discounted.",
    ),
    (
        "INVALID_DISCOUNT",
        lambda: add_line_discount(basket(), 1, PERCENT, Decimal("101"), POLICY),
        "A discount is a positive amount, or a percentage above 0 and at most 100.",
    ),
    (
        "INVALID_DISCOUNT",
        lambda: add_line_discount(basket(), 1, AMOUNT, Decimal("0.005"), POLICY),
        "0.005 has more than 2 decimal places.",
    ),
    (
        "DISCOUNT_EXCEEDS_AMOUNT",
        lambda: add_line_discount(basket(), 2, AMOUNT, Decimal("2.51"), POLICY),
        "Line 2: discounts of 2.51 exceed its amount of 2.50.",
    ),
    (
        "NO_ACTIVE_LINES",
        lambda: subtotal(without_lines(), POLICY),
        "The cart has no items to pay for.",
    ),
    (
        "DISCOUNT_EXCEEDS_AMOUNT",
        lambda: add_cart_discount(paying(), AMOUNT, Decimal("4.91"), POLICY),
        "Cart discounts of 4.91 exceed the discountable amount of 4.90.",
    ),
    (
        "NO_DISCOUNTABLE_LINES",
        lambda: add_cart_discount(
            subtotal(entering(req("TOBACCO")), POLICY), AMOUNT, Decimal("1.00"), POLICY
        ),
        "No line of this cart can be discounted.",
    ),
    (
        "PAYMENTS_ALREADY_MADE",
        lambda: add_cart_discount(paying_with_card(), AMOUNT, Decimal("0.50"), POLICY),
        "Payments were already taken; a cart discount is no longer possible.",
    ),
    (
        "PAYMENTS_ALREADY_MADE",
        lambda: resume_item_entry(paying_with_card(), POLICY),
        "Payments were already taken; resuming item entry is no longer possible.",
    ),
    (
        "PAYMENT_METHOD_INACTIVE",
        lambda: add_payment(paying(), CHEQUE, Decimal("1.00"), POLICY),
        "Payment method 04 is not active.",
    ),
    (
        "INVALID_PAYMENT_AMOUNT",
        lambda: add_payment(paying(), CASH, Decimal("0"), POLICY),
        "A payment is a positive amount.",
    ),
    (
        "INVALID_PAYMENT_AMOUNT",
        lambda: add_payment(paying(), CASH, Decimal("1.005"), POLICY),
        "1.005 has more than 2 decimal places.",
    ),
    (
        "NOTHING_TO_PAY",
        lambda: add_payment(paid(), CASH, Decimal("1.00"), POLICY),
        "The balance is already covered.",
    ),
    (
        "PAYMENT_EXCEEDS_BALANCE",
        lambda: add_payment(paying(), CARD, Decimal("5.00"), POLICY),
        "Card cannot pay more than the balance of 4.90.",
    ),
    (
        "BALANCE_DUE",
        lambda: bill(paying_with_card(), 1, "tx"),
        "A balance of 3.90 is still due.",  # 4.90 - 1.00
    ),
]


@pytest.mark.parametrize(("code", "operation", "message"), MESSAGES)
def test_every_refusal_tells_the_cashier_what_is_wrong(
    code: str, operation: Callable[[], object], message: str
) -> None:
    with pytest.raises(AppError) as info:
        operation()
    assert (info.value.code, info.value.message) == (code, message)


def test_a_successful_operation_does_not_mutate_its_input_either() -> None:
    cart = paying()
    before = cart.model_dump()
    add_cart_discount(cart, AMOUNT, Decimal("1.00"), POLICY)
    add_payment(cart, CASH, Decimal("10.00"), POLICY)
    resume_item_entry(cart, POLICY)
    cancel(cart, 1, "tx")
    assert cart.model_dump() == before
    entry = basket()
    entry_before = entry.model_dump()
    add_items(entry, [req("MILK")], ITEMS, POLICY)
    cancel_line(entry, 1, POLICY)
    change_quantity(entry, 1, 9, POLICY)
    change_unit_price(entry, 1, Decimal("0.10"), POLICY)
    add_line_discount(entry, 1, PERCENT, Decimal("50"), POLICY)
    subtotal(entry, POLICY)
    assert entry.model_dump() == entry_before


# --- a whole sale --------------------------------------------------------------------------


def test_a_whole_sale() -> None:
    cart = add_items(
        empty(), [req("APPLE", 3), req("TEA", 2), req("TOBACCO"), req("MILK")], ITEMS, POLICY
    )
    cart = cancel_line(cart, 4, POLICY)  # MILK out
    cart = change_quantity(cart, 1, 5, POLICY)  # 5 x 1.20 = 6.00
    cart = add_line_discount(cart, 2, PERCENT, Decimal("25"), POLICY)  # 2 x 4.00 = 8.00 - 2.00
    cart = subtotal(cart, POLICY)
    cart = add_cart_discount(cart, AMOUNT, Decimal("1.00"), POLICY)
    # eligible 6.00 (line 1) and 6.00 (line 2), base 12.00 -> 0.50 each; TOBACCO restricted
    assert [entry.cart_discount_amount for entry in cart.lines] == [
        Decimal("0.50"),
        Decimal("0.50"),
        Decimal("0"),
        Decimal("0"),
    ]
    # nets: 5.50 (exempt), 5.50 (external 10% -> 0.55), 9.00 (exempt); net 20.00
    assert cart.totals.net_amount == Decimal("20.00")
    assert cart.totals.external_tax_total == Decimal("0.55")
    assert cart.totals.total_amount == Decimal("20.55")  # 20.00 + 0.55
    cart = add_payment(cart, CARD, Decimal("10.00"), POLICY)
    cart = add_payment(cart, CASH, Decimal("20.00"), POLICY)
    assert cart.payments[1].change == Decimal("9.45")  # 20.00 - (20.55 - 10.00)
    assert cart.totals.balance_due == Decimal("0")
    cart = bill(cart, 42, "tx-42")
    assert cart.state is CartState.COMPLETED
    assert cart.receipt_no == 42
    assert cart.transaction_id == "tx-42"


# --- limits of a cart ----------------------------------------------------------------------


def test_a_cart_whose_amounts_would_not_fit_is_refused_just_past_the_limit() -> None:
    """Amounts stay below 10^12 (12 whole digits). TEA is taxed 10 % on top: 9,999 x
    90,918,182 = 909,090,901,818.00 gross, 999,999,991,999.80 total, fits; at 90,918,183 the
    gross still fits but the total is 1,000,000,002,998.70. 101 lines of 9,999 at 1,000,000
    are past it in the gross already."""
    policy = PricingPolicy(max_amount=Decimal(10) ** 12)
    fits = entering(req("TEA", 9_999, "90918182"), policy=policy)
    assert fits.totals.total_amount == Decimal("999999991999.80")
    with pytest.raises(UnprocessableError) as total:
        entering(req("TEA", 9_999, "90918183"), policy=policy)
    assert total.value.code == "CART_TOTAL_TOO_LARGE"
    with pytest.raises(UnprocessableError) as gross:
        entering(*[req("TEA", 9_999, "1000000")] * 101, policy=policy)
    assert gross.value.code == "CART_TOTAL_TOO_LARGE"


def test_discounts_and_payments_are_bounded_and_none_may_round_to_nothing() -> None:
    cart = basket()
    with pytest.raises(UnprocessableError) as tiny:
        add_line_discount(cart, 1, PERCENT, Decimal("0.1"), POLICY)  # 0.0024 -> 0.00
    assert tiny.value.code == "DISCOUNT_ROUNDS_TO_ZERO"
    for _ in range(10):
        cart = add_line_discount(cart, 1, AMOUNT, Decimal("0.01"), POLICY)
    with pytest.raises(UnprocessableError) as lines:
        add_line_discount(cart, 1, AMOUNT, Decimal("0.01"), POLICY)
    assert lines.value.code == "LINE_DISCOUNT_LIMIT"

    cart = subtotal(cart, POLICY)
    with pytest.raises(UnprocessableError) as tiny_cart:
        add_cart_discount(cart, PERCENT, Decimal("0.01"), POLICY)  # of 4.80: 0.00048
    assert tiny_cart.value.code == "DISCOUNT_ROUNDS_TO_ZERO"
    for _ in range(10):
        cart = add_cart_discount(cart, AMOUNT, Decimal("0.01"), POLICY)
    with pytest.raises(UnprocessableError) as carts:
        add_cart_discount(cart, AMOUNT, Decimal("0.01"), POLICY)
    assert carts.value.code == "CART_DISCOUNT_LIMIT"

    for _ in range(20):
        cart = add_payment(cart, CASH, Decimal("0.01"), POLICY)
    with pytest.raises(UnprocessableError) as payments:
        add_payment(cart, CASH, Decimal("0.01"), POLICY)
    assert payments.value.code == "PAYMENT_LIMIT"


def test_a_cart_remembers_the_keys_of_its_last_changes() -> None:
    cart = basket()
    assert with_key(cart, None) is cart
    keyed = cart
    for n in range(KEYS_KEPT + 2):
        keyed = with_key(keyed, f"k{n}")
    assert KEYS_KEPT == 32
    assert keyed.idempotency_keys == [f"k{n}" for n in range(2, KEYS_KEPT + 2)]
    assert cart.idempotency_keys == []
    assert applied(keyed, "k2")
    assert applied(keyed, f"k{KEYS_KEPT + 1}")
    assert not applied(keyed, "k1")  # forgotten: the oldest go first
    assert not applied(keyed, None)


def test_a_change_whose_key_the_cart_holds_was_applied_already() -> None:
    cart = with_key(basket(), "k")
    check_not_applied(cart, None)
    check_not_applied(cart, "other")
    with pytest.raises(AlreadyAppliedError) as found:
        check_not_applied(cart, "k")
    assert found.value.cart is cart
    assert str(found.value) == cart.cart_id
