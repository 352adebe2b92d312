"""Pricing rules with worked examples: every expected number is computed by hand in a comment.

Pure unit tests of cart.domain.pricing: no I/O, no servers. Carts are built with the
operations `new_cart` and `add_items`, then adjusted with `model_copy` and priced directly.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from cart.domain.model import (
    Cart,
    Discount,
    DiscountType,
    LineItem,
    Payment,
    RoundingMethod,
    TaxRule,
    TaxType,
)
from cart.domain.operations import ItemInfo, ItemRequest, PricingPolicy, add_items, new_cart
from cart.domain.pricing import (
    DiscountExceedsAmountError,
    allocate,
    is_cart_discount_eligible,
    price,
    round_to,
    tax_amount,
    unit,
)
from pos_commons.errors import UnprocessableError
from pos_commons.money import format_decimal
from tests.unit.cart import catalog
from tests.unit.cart.catalog import NOW, POLICY, tax_rule

HALF_UP = RoundingMethod.HALF_UP
HALF_EVEN = RoundingMethod.HALF_EVEN
DOWN = RoundingMethod.DOWN
UP = RoundingMethod.UP


def rule(
    tax_code: str = "T10",
    tax_type: TaxType = TaxType.EXTERNAL,
    rate: str = "10",
    digits: int = 2,
    method: RoundingMethod = HALF_UP,
) -> TaxRule:
    return tax_rule(tax_code, tax_type, rate, digits=digits, method=method)


EXT10 = rule("T10", TaxType.EXTERNAL, "10")
INT8_DOWN = rule("T08", TaxType.INTERNAL, "8", method=DOWN)
EXEMPT = rule("T00", TaxType.EXEMPT, "0")


def item(
    code: str,
    unit_price: str,
    tax_rule: TaxRule = EXEMPT,
    *,
    restricted: bool = False,
) -> ItemInfo:
    return catalog.item(
        code, unit_price, tax_rule=tax_rule, restricted=restricted, category_code="CAT"
    )


def cart_of(*lines: tuple[ItemInfo, int], policy: PricingPolicy = POLICY) -> Cart:
    """A cart in EnteringItem with one line per (item, quantity), numbered from 1."""
    cart = new_cart("c-1", "tenant", "store-1", 1, NOW, NOW + timedelta(hours=1), policy)
    catalog = {info.item_code: info for info, _ in lines}
    requests = [ItemRequest(item_code=info.item_code, quantity=qty) for info, qty in lines]
    return add_items(cart, requests, catalog, policy)


def change_line(cart: Cart, line_no: int, **update: Any) -> Cart:
    lines = [
        line.model_copy(update=update) if line.line_no == line_no else line for line in cart.lines
    ]
    return cart.model_copy(update={"lines": lines})


def line(cart: Cart, line_no: int) -> LineItem:
    return next(candidate for candidate in cart.lines if candidate.line_no == line_no)


def amount_off(value: str) -> Discount:
    return Discount(discount_type=DiscountType.AMOUNT, value=Decimal(value))


def percent_off(value: str) -> Discount:
    return Discount(discount_type=DiscountType.PERCENT, value=Decimal(value))


def with_cart_discounts(cart: Cart, *discounts: Discount) -> Cart:
    return cart.model_copy(update={"cart_discounts": list(discounts)})


# --- unit / round_to -----------------------------------------------------------------------


def test_unit_is_the_smallest_amount_at_the_given_digits() -> None:
    assert unit(2) == Decimal("0.01")
    assert unit(0) == Decimal("1")
    assert unit(3) == Decimal("0.001")


ROUNDING_CASES = [
    # value, digits, method, expected
    ("0.125", 2, HALF_UP, "0.13"),  # tie 0.125 -> away from zero -> 0.13
    ("0.125", 2, HALF_EVEN, "0.12"),  # tie 0.125 -> to the even hundredth 2 -> 0.12
    ("0.135", 2, HALF_EVEN, "0.14"),  # tie 0.135 -> to the even hundredth 4 -> 0.14
    ("0.125", 2, DOWN, "0.12"),  # truncate the third decimal
    ("0.125", 2, UP, "0.13"),  # any remainder goes up
    ("0.124", 2, HALF_UP, "0.12"),  # 0.004 < 0.005 -> down
    ("0.126", 2, HALF_EVEN, "0.13"),  # not a tie: 0.006 > 0.005 -> up
    ("0.121", 2, UP, "0.13"),  # 0.001 left over -> up
    ("0.129", 2, DOWN, "0.12"),  # 0.009 left over -> dropped
    ("1.20", 2, UP, "1.20"),  # already exact: nothing to round up
    ("37.035", 2, HALF_UP, "37.04"),  # 3 x 12.345 -> tie -> up
    ("0.7992", 2, HALF_UP, "0.80"),  # 0.0092 >= 0.005 -> up
    ("2.5", 0, HALF_UP, "3"),  # tie -> away from zero
    ("2.5", 0, HALF_EVEN, "2"),  # tie -> even 2
    ("3.5", 0, HALF_EVEN, "4"),  # tie -> even 4
    ("2.5", 0, DOWN, "2"),  # truncate
    ("2.1", 0, UP, "3"),  # any remainder -> up
    ("1.23456", 3, HALF_UP, "1.235"),  # 0.00056 -> up at 3 digits
    ("-0.125", 2, HALF_UP, "-0.13"),  # tie -> away from zero
    ("-0.125", 2, HALF_EVEN, "-0.12"),  # tie -> even
    ("-0.129", 2, DOWN, "-0.12"),  # toward zero
    ("-0.121", 2, UP, "-0.13"),  # away from zero
]


@pytest.mark.parametrize(("value", "digits", "method", "expected"), ROUNDING_CASES)
def test_round_to(value: str, digits: int, method: RoundingMethod, expected: str) -> None:
    assert round_to(Decimal(value), digits, method) == Decimal(expected)


def test_rounding_cases_cover_every_method() -> None:
    assert {case[2] for case in ROUNDING_CASES} == set(RoundingMethod)


def test_round_to_defaults_to_half_up() -> None:
    assert round_to(Decimal("0.125"), 2) == Decimal("0.13")  # tie -> up, not to even
    assert round_to(Decimal("0.5"), 0) == Decimal("1")


def test_round_to_keeps_the_requested_exponent() -> None:
    assert str(round_to(Decimal("2"), 2)) == "2.00"
    assert str(round_to(Decimal("12.5"), 0)) == "13"
    assert str(round_to(Decimal("0.1"), 3, DOWN)) == "0.100"


# --- allocate ------------------------------------------------------------------------------


def dec(*values: str) -> list[Decimal]:
    return [Decimal(value) for value in values]


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        # 1.00 / 3 = 0.333.. each -> floors 0.33 x 3 = 0.99, 1 unit left, tie -> index 0
        ("1.00", ("1.00", "1.00", "1.00"), ("0.34", "0.33", "0.33")),
        # 0.02 / 3 = 0.00666.. each -> floors 0, 2 units left, ties -> indexes 0 and 1
        ("0.02", ("5.00", "5.00", "5.00"), ("0.01", "0.01", "0.00")),
        # base 30.00: 1.50 x 10/30 = 0.50, 1.50 x 20/30 = 1.00 -> exact, nothing left
        ("1.50", ("10.00", "20.00"), ("0.50", "1.00")),
        # base 10.00: 0.10 x w/10 = 0.01, 0.02, 0.03, 0.04 exactly
        ("0.10", ("1.00", "2.00", "3.00", "4.00"), ("0.01", "0.02", "0.03", "0.04")),
        # base 7.00: 0.06 x 5/7 = 0.042857.. (rem .002857), 0.06 x 2/7 = 0.017142.. (rem .007142)
        # floors 0.04 + 0.01 = 0.05, 1 unit left -> largest remainder is index 1
        ("0.06", ("5.00", "2.00"), ("0.04", "0.02")),
        # base 7.00: 3/7 = 0.428571.. twice (rem .008571), 1/7 = 0.142857.. (rem .002857)
        # floors 0.42 + 0.42 + 0.14 = 0.98, 2 units left -> indexes 0 and 1
        ("1.00", ("3.00", "3.00", "1.00"), ("0.43", "0.43", "0.14")),
        # base 7.00: 0.01/7 = .001428.., 0.03/7 = .004285.. twice; floors all 0, 1 unit left
        # largest remainders tie at indexes 1 and 2 -> the lower, index 1
        ("0.01", ("1.00", "3.00", "3.00"), ("0.00", "0.01", "0.00")),
        # base 2.00: 0, 0.025, 0.025 -> floors 0, 0.02, 0.02, 1 unit left, tie -> index 1
        ("0.05", ("0.00", "1.00", "1.00"), ("0.00", "0.03", "0.02")),
        # base 6.00: 0.02 x 2/6 = 0.00666.. (rem .00666), 0.02 x 1/6 = 0.00333.. (rem .00333),
        # 0.02 x 3/6 = 0.01 (rem 0); floors 0 + 0 + 0.01 = 0.01, 1 unit left -> index 0
        ("0.02", ("2.00", "1.00", "3.00"), ("0.01", "0.00", "0.01")),
        # total = sum of weights: every share is its whole weight
        ("6.00", ("1.00", "2.00", "3.00"), ("1.00", "2.00", "3.00")),
        # smallest weights: 0.02 over 3 x 0.01 -> 0.00666.. each, ties -> indexes 0 and 1
        ("0.02", ("0.01", "0.01", "0.01"), ("0.01", "0.01", "0.00")),
        # weights summing to exactly 1.00: 0.50 x 0.40 = 0.20, 0.50 x 0.60 = 0.30
        ("0.50", ("0.40", "0.60"), ("0.20", "0.30")),
    ],
)
def test_allocate_worked_examples(
    total: str, weights: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert allocate(Decimal(total), dec(*weights), 2) == dec(*expected)


def test_allocate_in_whole_units_of_zero_digits() -> None:
    # 10 / 3 = 3.33.. each -> floors 3 x 3 = 9, 1 unit left, tie -> index 0
    assert allocate(Decimal("10"), dec("7", "7", "7"), 0) == dec("4", "3", "3")


def test_allocate_zero_total_gives_zero_shares() -> None:
    assert allocate(Decimal("0"), dec("1.00", "2.00", "3.00"), 2) == dec("0", "0", "0")


def test_allocate_over_zero_weights_gives_zero_shares() -> None:
    assert allocate(Decimal("0"), dec("0.00", "0.00"), 2) == dec("0", "0")
    assert allocate(Decimal("0"), [], 2) == []


INVARIANT_CASES = [
    ("1.00", ("1.00", "1.00", "1.00")),
    ("0.03", ("0.01", "0.01", "0.01")),
    ("0.02", ("0.01", "0.01", "0.01")),
    ("9.99", ("3.33", "3.33", "3.34")),
    ("4.92", ("0.46", "0.43", "8.13")),
    ("12.34", ("0.01", "0.99", "5.55", "7.77", "0.00")),
    ("100.00", ("33.33", "33.33", "33.34", "0.01", "0.02")),
    ("0.07", ("0.05", "0.05")),
    ("2.00", ("1.99", "0.01", "0.01")),
]


@pytest.mark.parametrize(("total", "weights"), INVARIANT_CASES)
def test_allocate_shares_sum_to_total_and_never_exceed_weights(
    total: str, weights: tuple[str, ...]
) -> None:
    shares = allocate(Decimal(total), dec(*weights), 2)
    assert len(shares) == len(weights)
    assert sum(shares, Decimal(0)) == Decimal(total)
    for share, weight in zip(shares, dec(*weights), strict=True):
        assert share >= 0
        assert share <= weight
        assert share == round_to(share, 2)  # whole money units


@pytest.mark.parametrize(("total", "weights"), INVARIANT_CASES)
def test_allocate_is_deterministic(total: str, weights: tuple[str, ...]) -> None:
    first = allocate(Decimal(total), dec(*weights), 2)
    second = allocate(Decimal(total), dec(*weights), 2)
    assert first == second


def test_allocate_equal_remainders_from_different_weights_tie_to_the_lower_index() -> None:
    # base 9.00: 0.03 x 4/9 = 0.01333.. (rem 1/300), 0.03 x 1/9 = 0.00333.. (rem 1/300),
    # 0.03 x 4/9 = 0.01333.. (rem 1/300); floors 0.01 + 0.00 + 0.01 = 0.02, 1 unit left;
    # all three remainders are exactly 1/300 -> tie -> the lowest index, 0
    assert allocate(Decimal("0.03"), dec("4.00", "1.00", "4.00"), 2) == dec("0.02", "0.00", "0.01")


def test_allocate_tie_between_a_small_and_a_large_weight_goes_to_the_lower_index() -> None:
    # base 9.02: 4.92 x 0.46 / 9.02 = 0.250909.. (rem 0.000909..),
    # 4.92 x 0.43 / 9.02 = 0.2345454.. (rem 0.0045454.. = 1/220),
    # 4.92 x 8.13 / 9.02 = 4.4345454.. (rem 0.0045454.. = 1/220);
    # floors 0.25 + 0.23 + 4.43 = 4.91, 1 unit left, tie of indexes 1 and 2 -> index 1
    assert allocate(Decimal("4.92"), dec("0.46", "0.43", "8.13"), 2) == dec("0.25", "0.24", "4.43")


# --- tax_amount ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tax_type", "rate", "digits", "method", "taxable", "expected"),
    [
        # internal: taxable x rate / (100 + rate)
        (TaxType.INTERNAL, "10", 2, HALF_UP, "110.00", "10.00"),  # 110 x 10 / 110 = 10
        (TaxType.INTERNAL, "10", 0, HALF_UP, "110.00", "10"),  # 10 exactly
        (TaxType.INTERNAL, "10", 2, UP, "110.00", "10.00"),  # exact: nothing to round up
        (TaxType.INTERNAL, "8", 2, HALF_UP, "100.00", "7.41"),  # 800 / 108 = 7.4074..
        (TaxType.INTERNAL, "8", 2, DOWN, "100.00", "7.40"),  # 7.4074.. -> 7.40
        (TaxType.INTERNAL, "8", 2, UP, "100.00", "7.41"),  # 7.4074.. -> 7.41
        (TaxType.INTERNAL, "8", 0, HALF_UP, "100.00", "7"),  # 7.4074.. -> 7
        (TaxType.INTERNAL, "8", 0, DOWN, "100.00", "7"),  # 7.4074.. -> 7
        (TaxType.INTERNAL, "8", 0, UP, "100.00", "8"),  # 7.4074.. -> 8
        # external: taxable x rate / 100
        (TaxType.EXTERNAL, "8", 2, HALF_UP, "9.99", "0.80"),  # 9.99 x 8 / 100 = 0.7992
        (TaxType.EXTERNAL, "8", 2, DOWN, "9.99", "0.79"),  # 0.7992 -> 0.79
        (TaxType.EXTERNAL, "8", 2, UP, "9.99", "0.80"),  # 0.7992 -> 0.80
        (TaxType.EXTERNAL, "8", 0, DOWN, "9.99", "0"),  # 0.7992 -> 0
        (TaxType.EXTERNAL, "8", 0, UP, "9.99", "1"),  # 0.7992 -> 1
        (TaxType.EXTERNAL, "8", 0, HALF_UP, "9.99", "1"),  # 0.7992 >= 0.5 -> 1
        (TaxType.EXTERNAL, "10", 2, HALF_UP, "1.25", "0.13"),  # 0.125 tie -> up
        (TaxType.EXTERNAL, "10", 2, HALF_EVEN, "1.25", "0.12"),  # 0.125 tie -> even
        (TaxType.EXTERNAL, "10", 0, HALF_UP, "5.00", "1"),  # 0.5 tie -> up
        (TaxType.EXTERNAL, "10", 0, HALF_EVEN, "5.00", "0"),  # 0.5 tie -> even 0
        (TaxType.EXTERNAL, "10", 2, UP, "12.30", "1.23"),  # 1.23 exact
        (TaxType.EXTERNAL, "10", 2, HALF_UP, "0.00", "0.00"),  # nothing taxable
        (TaxType.EXTERNAL, "7.5", 2, HALF_UP, "19.99", "1.50"),  # 1.49925 -> 1.50
        # exempt: nothing, whatever the rate and rounding
        (TaxType.EXEMPT, "0", 2, HALF_UP, "123.45", "0.00"),
        (TaxType.EXEMPT, "10", 0, UP, "123.45", "0"),
    ],
)
def test_tax_amount(
    tax_type: TaxType, rate: str, digits: int, method: RoundingMethod, taxable: str, expected: str
) -> None:
    tax_rule = rule("TX", tax_type, rate, digits, method)
    # Compared as text: "0" and "0.00" are equal numbers but not the same on the wire.
    assert format_decimal(tax_amount(tax_rule, Decimal(taxable), 2)) == expected


@pytest.mark.parametrize(
    ("digits", "money_digits", "method", "expected"),
    [
        (3, 2, HALF_UP, "1.01"),  # 1.005 at 3 places, but money has 2: 1.01
        (3, 2, DOWN, "1.00"),
        (3, 3, HALF_UP, "1.005"),  # the money precision allows it
        (6, 2, UP, "1.01"),
        (2, 3, HALF_UP, "1.01"),  # the rule's 2 places, under a finer money precision
        (0, 2, HALF_UP, "1"),
    ],
)
def test_a_tax_is_never_finer_than_the_money_precision(
    digits: int, money_digits: int, method: RoundingMethod, expected: str
) -> None:
    """10 % of 10.05 = 1.005: a total must be payable in whole money units."""
    tax_rule = rule("TX", TaxType.EXTERNAL, "10", digits, method)
    assert format_decimal(tax_amount(tax_rule, Decimal("10.05"), money_digits)) == expected


# --- price(): line amounts -----------------------------------------------------------------


def test_line_amount_is_rounded_half_up_with_three_decimal_prices() -> None:
    cart = cart_of(
        (item("A", "12.345"), 3),  # 3 x 12.345 = 37.035 -> 37.04 (half-up)
        (item("B", "0.333"), 3),  # 3 x 0.333 = 0.999 -> 1.00
        (item("C", "1.004"), 1),  # 1.004 -> 1.00
        (item("D", "2.675"), 1),  # 2.675 -> 2.68 (decimal tie, half-up)
        (item("E", "0.125"), 1),  # 0.125 -> 0.13 (half-up, not half-even 0.12)
    )
    assert [entry.amount for entry in cart.lines] == dec("37.04", "1.00", "1.00", "2.68", "0.13")
    assert [entry.net_amount for entry in cart.lines] == dec(
        "37.04", "1.00", "1.00", "2.68", "0.13"
    )
    # 37.04 + 1.00 + 1.00 + 2.68 + 0.13 = 41.85
    assert cart.totals.gross_amount == Decimal("41.85")
    assert cart.totals.net_amount == Decimal("41.85")
    assert cart.totals.total_amount == Decimal("41.85")  # all exempt: no external tax
    assert cart.totals.line_count == 5
    assert cart.totals.item_count == 9  # 3 + 3 + 1 + 1 + 1


def test_line_amount_rounds_to_the_policy_money_digits() -> None:
    cart = cart_of(
        (item("A", "12.5"), 3),  # 3 x 12.5 = 37.5 -> 38 at 0 digits (half-up)
        (item("B", "0.49"), 1),  # 0.49 -> 0
        policy=PricingPolicy(money_digits=0),
    )
    assert [entry.amount for entry in cart.lines] == dec("38", "0")
    assert cart.totals.total_amount == Decimal("38")


def test_price_is_idempotent() -> None:
    cart = cart_of((item("A", "12.345"), 3), (item("B", "1.00", EXT10), 2))
    assert price(cart, 2) == cart
    assert price(price(cart, 2), 2) == cart


def test_repricing_follows_every_change_of_a_line_and_of_its_tax_rule() -> None:
    # Pricing keeps the lines and tax lines that are priced as they are already: each
    # part of them that can change must still come through, one at a time.
    cart = cart_of((item("A", "10.00", EXT10), 1), (item("B", "5.00", EXT10), 2))

    def taxes(cart: Cart) -> list[tuple[str, str, TaxType, str, str, str]]:
        return [
            (t.tax_code, t.name, t.tax_type, format_decimal(t.rate),
             format_decimal(t.taxable_amount), format_decimal(t.tax_amount))
            for t in price(cart, 2).taxes
        ]  # fmt: skip

    def every_line(cart: Cart, **rule: Any) -> Cart:
        changed = EXT10.model_copy(update=rule)
        for line_no in (1, 2):
            cart = change_line(cart, line_no, tax_rule=changed)
        return cart

    assert taxes(cart) == [("T10", "external 10%", TaxType.EXTERNAL, "10", "20.00", "2.00")]
    assert taxes(every_line(cart, name="VAT"))[0][1] == "VAT"
    assert taxes(every_line(cart, tax_code="T11"))[0][0] == "T11"
    assert taxes(every_line(cart, tax_type=TaxType.INTERNAL))[0][2:] == (
        TaxType.INTERNAL, "10", "20.00", "1.82"
    )  # fmt: skip
    assert taxes(every_line(cart, rate=Decimal("10.0")))[0][3] == "10.0"
    assert taxes(every_line(cart, rounding_digits=0))[0][5] == "2"
    untaxed = price(every_line(cart, rate=Decimal(0)), 2)
    assert taxes(untaxed)[0][2:] == (TaxType.EXTERNAL, "0", "20.00", "0.00")
    assert taxes(every_line(untaxed, rate=Decimal(0), tax_type=TaxType.EXEMPT))[0][2:] == (
        TaxType.EXEMPT, "0", "20.00", "0.00"
    )  # fmt: skip
    more = price(change_line(cart, 2, quantity=3), 2)
    assert taxes(more)[0][4:] == ("25.00", "2.50")
    assert (line(more, 2).amount, line(more, 2).net_amount) == (Decimal("15.00"),) * 2
    # The same values written at another precision are rewritten at this one.
    assert format_decimal(price(cart, 3).taxes[0].taxable_amount) == "20.000"
    assert format_decimal(line(price(cart, 3), 1).amount) == "10.000"


def test_zero_unit_price_line() -> None:
    cart = cart_of((item("FREE", "0.00", EXT10), 2), (item("A", "4.00", EXT10), 1))
    free = line(cart, 1)
    assert free.amount == Decimal("0")  # 2 x 0.00
    assert free.net_amount == Decimal("0")
    assert not is_cart_discount_eligible(free)  # net is not > 0
    assert cart.totals.line_count == 2
    assert cart.totals.item_count == 3  # 2 + 1
    assert cart.totals.net_amount == Decimal("4.00")
    assert cart.totals.external_tax_total == Decimal("0.40")  # (0.00 + 4.00) x 10% = 0.40
    assert cart.totals.total_amount == Decimal("4.40")  # 4.00 + 0.40


def test_zero_unit_price_line_refuses_an_amount_discount_but_takes_a_percent() -> None:
    cart = cart_of((item("FREE", "0.00"), 1))
    with pytest.raises(DiscountExceedsAmountError):
        price(change_line(cart, 1, discounts=[amount_off("0.01")]), 2)  # 0.01 > 0.00
    priced = price(change_line(cart, 1, discounts=[percent_off("50")]), 2)
    assert line(priced, 1).discount_amount == Decimal("0")  # 50% of 0.00


# --- price(): line discounts ---------------------------------------------------------------


def test_amount_line_discount() -> None:
    cart = cart_of((item("A", "10.00"), 2))  # 2 x 10.00 = 20.00
    priced = price(change_line(cart, 1, discounts=[amount_off("3.00")]), 2)
    entry = line(priced, 1)
    assert entry.amount == Decimal("20.00")
    assert entry.discounts[0].amount == Decimal("3.00")
    assert entry.discount_amount == Decimal("3.00")
    assert entry.net_amount == Decimal("17.00")  # 20.00 - 3.00
    assert priced.totals.gross_amount == Decimal("20.00")
    assert priced.totals.line_discount_total == Decimal("3.00")
    assert priced.totals.net_amount == Decimal("17.00")


def test_amount_line_discount_is_rounded_half_up_to_money() -> None:
    cart = cart_of((item("A", "10.00"), 1))
    priced = price(change_line(cart, 1, discounts=[amount_off("1.005")]), 2)
    assert line(priced, 1).discount_amount == Decimal("1.01")  # 1.005 -> 1.01 (half-up)
    assert line(priced, 1).net_amount == Decimal("8.99")  # 10.00 - 1.01


def test_percent_line_discount_is_rounded_half_up() -> None:
    cart = cart_of((item("A", "3.33"), 3), (item("B", "1.25"), 1))
    priced = price(
        change_line(
            change_line(cart, 1, discounts=[percent_off("15")]), 2, discounts=[percent_off("10")]
        ),
        2,
    )
    # line 1: 3 x 3.33 = 9.99; 15% = 1.4985 -> 1.50; net 9.99 - 1.50 = 8.49
    assert line(priced, 1).discount_amount == Decimal("1.50")
    assert line(priced, 1).net_amount == Decimal("8.49")
    # line 2: 1.25 x 10% = 0.125 -> 0.13 (half-up); net 1.25 - 0.13 = 1.12
    assert line(priced, 2).discount_amount == Decimal("0.13")
    assert line(priced, 2).net_amount == Decimal("1.12")
    assert priced.totals.line_discount_total == Decimal("1.63")  # 1.50 + 0.13
    assert priced.totals.net_amount == Decimal("9.61")  # 8.49 + 1.12


def test_several_line_discounts_are_each_computed_on_the_line_amount() -> None:
    cart = cart_of((item("A", "10.00"), 2))  # 20.00
    discounts = [amount_off("1.00"), percent_off("10"), percent_off("10")]
    priced = price(change_line(cart, 1, discounts=discounts), 2)
    entry = line(priced, 1)
    # 1.00, 10% of 20.00 = 2.00, 10% of 20.00 = 2.00 (not of the 18.00 left after the first)
    assert [d.amount for d in entry.discounts] == dec("1.00", "2.00", "2.00")
    assert entry.discount_amount == Decimal("5.00")  # 1.00 + 2.00 + 2.00
    assert entry.net_amount == Decimal("15.00")  # 20.00 - 5.00


def test_line_discount_equal_to_the_line_amount_is_allowed() -> None:
    cart = cart_of((item("A", "5.00"), 1))
    priced = price(change_line(cart, 1, discounts=[amount_off("5.00")]), 2)
    assert line(priced, 1).net_amount == Decimal("0")  # 5.00 - 5.00
    assert priced.totals.total_amount == Decimal("0")


def test_line_discount_exceeding_the_line_amount_is_refused() -> None:
    cart = cart_of((item("A", "5.00"), 1))
    with pytest.raises(DiscountExceedsAmountError) as info:
        price(change_line(cart, 1, discounts=[amount_off("5.01")]), 2)  # 5.01 > 5.00
    assert info.value.code == "DISCOUNT_EXCEEDS_AMOUNT"
    assert info.value.status_code == 422
    assert isinstance(info.value, UnprocessableError)
    assert info.value.details["lineNo"] == 1
    assert info.value.details["amount"] == Decimal("5.00")
    assert info.value.details["discounts"] == Decimal("5.01")


def test_line_discounts_exceeding_together_are_refused() -> None:
    cart = cart_of((item("A", "10.00"), 1))
    with pytest.raises(DiscountExceedsAmountError) as info:
        # 60% = 6.00 and 50% = 5.00: 11.00 > 10.00
        price(change_line(cart, 1, discounts=[percent_off("60"), percent_off("50")]), 2)
    assert info.value.code == "DISCOUNT_EXCEEDS_AMOUNT"
    assert info.value.details["discounts"] == Decimal("11.00")


# --- price(): cancelled lines --------------------------------------------------------------


def test_cancelled_lines_are_left_out_of_totals_and_taxes() -> None:
    cart = cart_of(
        (item("A", "10.00", EXT10), 1),
        (item("B", "5.00", EXT10), 3),
        (item("C", "2.00", INT8_DOWN), 1),
    )
    cart = change_line(cart, 2, is_cancelled=True, discounts=[amount_off("1.00")])
    cart = change_line(cart, 3, is_cancelled=True)
    priced = price(cart, 2)
    cancelled = line(priced, 2)
    assert cancelled.net_amount == Decimal("0")
    assert cancelled.discount_amount == Decimal("0")
    assert cancelled.cart_discount_amount == Decimal("0")
    assert priced.totals.line_count == 1
    assert priced.totals.item_count == 1
    assert priced.totals.gross_amount == Decimal("10.00")
    assert priced.totals.line_discount_total == Decimal("0")
    assert priced.totals.net_amount == Decimal("10.00")
    # only line 1 is taxed: 10.00 x 10% = 1.00; the internal rule has no active line left
    assert [t.tax_code for t in priced.taxes] == ["T10"]
    assert priced.taxes[0].taxable_amount == Decimal("10.00")
    assert priced.taxes[0].tax_amount == Decimal("1.00")
    assert priced.totals.external_tax_total == Decimal("1.00")
    assert priced.totals.internal_tax_total == Decimal("0")
    assert priced.totals.total_amount == Decimal("11.00")  # 10.00 + 1.00


def test_cart_with_only_cancelled_lines_totals_zero() -> None:
    cart = change_line(cart_of((item("A", "10.00", EXT10), 2)), 1, is_cancelled=True)
    priced = price(cart, 2)
    assert priced.taxes == []
    assert priced.totals.line_count == 0
    assert priced.totals.item_count == 0
    assert priced.totals.total_amount == Decimal("0")
    assert priced.totals.balance_due == Decimal("0")


# --- price(): cart discounts ---------------------------------------------------------------


def eligibility_cart() -> Cart:
    """Lines 1 and 3 eligible (6.00, 3.00); the rest are not, each for its own reason."""
    cart = cart_of(
        (item("A", "6.00"), 1),  # eligible, net 6.00
        (item("R", "20.00", restricted=True), 1),  # discount-restricted
        (item("B", "1.50"), 2),  # eligible, net 3.00
        (item("X", "9.00"), 1),  # cancelled below
        (item("F", "0.00"), 1),  # net 0
        (item("G", "4.00"), 1),  # fully line-discounted below: net 0
    )
    cart = change_line(cart, 4, is_cancelled=True)
    return price(change_line(cart, 6, discounts=[percent_off("100")]), 2)


def test_cart_discount_eligibility() -> None:
    cart = eligibility_cart()
    eligible = [entry.line_no for entry in cart.lines if is_cart_discount_eligible(entry)]
    assert eligible == [1, 3]


def test_amount_cart_discount_is_allocated_over_eligible_lines_only() -> None:
    priced = price(with_cart_discounts(eligibility_cart(), amount_off("1.00")), 2)
    # eligible nets 6.00 and 3.00, base 9.00: 1.00 x 6/9 = 0.666.. (rem .00666),
    # 1.00 x 3/9 = 0.333.. (rem .00333); floors 0.66 + 0.33 = 0.99, 1 unit -> line 1
    shares = [entry.cart_discount_amount for entry in priced.lines]
    assert shares == dec("0.67", "0", "0.33", "0", "0", "0")
    assert line(priced, 1).net_amount == Decimal("5.33")  # 6.00 - 0.67
    assert line(priced, 3).net_amount == Decimal("2.67")  # 3.00 - 0.33
    assert line(priced, 2).net_amount == Decimal("20.00")  # restricted: untouched
    assert priced.cart_discounts[0].amount == Decimal("1.00")
    assert priced.totals.cart_discount_total == Decimal("1.00")
    # active: 6.00 + 20.00 + 3.00 + 0.00 + 4.00 = 33.00 gross; line discount 4.00 (line 6)
    assert priced.totals.gross_amount == Decimal("33.00")
    assert priced.totals.line_discount_total == Decimal("4.00")
    # net: 5.33 + 20.00 + 2.67 + 0 + 0 = 28.00 (= 33.00 - 4.00 - 1.00)
    assert priced.totals.net_amount == Decimal("28.00")
    assert priced.totals.line_count == 5  # the cancelled line 4 is not counted


def test_percent_cart_discount_is_a_percentage_of_the_eligible_net() -> None:
    priced = price(with_cart_discounts(eligibility_cart(), percent_off("10")), 2)
    # 10% of the eligible 9.00 = 0.90 (not of the whole 29.00 net); 0.60 and 0.30 exactly
    assert priced.cart_discounts[0].amount == Decimal("0.90")
    assert line(priced, 1).cart_discount_amount == Decimal("0.60")  # 0.90 x 6/9
    assert line(priced, 3).cart_discount_amount == Decimal("0.30")  # 0.90 x 3/9
    assert priced.totals.cart_discount_total == Decimal("0.90")
    assert priced.totals.net_amount == Decimal("28.10")  # 29.00 - 0.90


def test_percent_cart_discount_is_rounded_half_up() -> None:
    cart = cart_of((item("A", "3.33"), 3))  # 9.99
    priced = price(with_cart_discounts(cart, percent_off("15")), 2)
    # 9.99 x 15% = 1.4985 -> 1.50
    assert priced.totals.cart_discount_total == Decimal("1.50")
    assert priced.totals.net_amount == Decimal("8.49")  # 9.99 - 1.50


def test_cart_discount_is_allocated_on_the_net_after_line_discounts() -> None:
    cart = cart_of((item("A", "10.00"), 1), (item("B", "10.00"), 1))
    cart = change_line(cart, 1, discounts=[amount_off("5.00")])  # net 5.00
    priced = price(with_cart_discounts(cart, amount_off("3.00")), 2)
    # base 5.00 + 10.00 = 15.00: 3.00 x 5/15 = 1.00, 3.00 x 10/15 = 2.00
    assert line(priced, 1).cart_discount_amount == Decimal("1.00")
    assert line(priced, 2).cart_discount_amount == Decimal("2.00")
    assert priced.totals.net_amount == Decimal("12.00")  # 20.00 - 5.00 - 3.00


def test_cart_discount_remainder_goes_to_the_lower_line_number_on_ties() -> None:
    cart = cart_of((item("A", "1.00"), 1), (item("B", "1.00"), 1), (item("C", "1.00"), 1))
    priced = price(with_cart_discounts(cart, amount_off("1.00")), 2)
    # 1.00 / 3 = 0.333.. each -> 0.33 x 3 = 0.99, 1 unit left, tie -> line 1
    assert [entry.cart_discount_amount for entry in priced.lines] == dec("0.34", "0.33", "0.33")
    assert [entry.net_amount for entry in priced.lines] == dec("0.66", "0.67", "0.67")


def test_cart_discount_tie_among_the_largest_remainders_goes_to_the_lower_of_them() -> None:
    cart = cart_of((item("A", "1.00"), 1), (item("B", "3.00"), 1), (item("C", "3.00"), 1))
    priced = price(with_cart_discounts(cart, amount_off("0.01")), 2)
    # base 7.00: 0.01/7 = .00142.., 0.03/7 = .00428.. twice; 1 unit -> line 2 (not 1, not 3)
    assert [entry.cart_discount_amount for entry in priced.lines] == dec("0", "0.01", "0")


def test_several_cart_discounts_are_summed_then_allocated() -> None:
    cart = cart_of((item("A", "6.00"), 1), (item("B", "4.00"), 1))  # eligible 10.00
    priced = price(with_cart_discounts(cart, amount_off("1.00"), percent_off("10")), 2)
    # 1.00 + 10% of 10.00 = 1.00 -> 2.00; 2.00 x 6/10 = 1.20, 2.00 x 4/10 = 0.80
    assert [d.amount for d in priced.cart_discounts] == dec("1.00", "1.00")
    assert priced.totals.cart_discount_total == Decimal("2.00")
    assert [entry.cart_discount_amount for entry in priced.lines] == dec("1.20", "0.80")


def test_cart_discount_equal_to_the_eligible_net_zeroes_it() -> None:
    cart = cart_of((item("A", "6.00"), 1), (item("B", "4.00"), 1))
    priced = price(with_cart_discounts(cart, percent_off("100")), 2)
    assert [entry.net_amount for entry in priced.lines] == dec("0", "0")
    assert priced.totals.total_amount == Decimal("0")


def test_cart_discount_exceeding_the_eligible_net_is_refused() -> None:
    cart = cart_of((item("A", "6.00"), 1), (item("R", "50.00", restricted=True), 1))
    with pytest.raises(DiscountExceedsAmountError) as info:
        price(with_cart_discounts(cart, amount_off("6.01")), 2)  # eligible is only 6.00
    assert info.value.code == "DISCOUNT_EXCEEDS_AMOUNT"
    assert info.value.status_code == 422
    assert info.value.details["discountable"] == Decimal("6.00")
    assert info.value.details["discounts"] == Decimal("6.01")


def test_cart_discount_with_nothing_discountable_is_refused_at_the_money_precision() -> None:
    cart = cart_of((item("R", "50.00", restricted=True), 1), (item("F", "0.00"), 1))
    with pytest.raises(DiscountExceedsAmountError) as info:
        price(with_cart_discounts(cart, amount_off("1.00")), 2)
    # nothing is eligible (restricted, net 0): the discountable amount is "0.00", not "0"
    details = {name: format_decimal(value) for name, value in info.value.details.items()}
    assert details == {"discountable": "0.00", "discounts": "1.00"}


def test_repricing_recomputes_the_cart_discount_shares_from_scratch() -> None:
    cart = cart_of((item("A", "6.00"), 1), (item("B", "4.00"), 1))
    priced = price(with_cart_discounts(cart, amount_off("2.00")), 2)  # 1.20 / 0.80
    again = price(change_line(priced, 2, is_cancelled=True), 2)
    # only line 1 left eligible: the whole 2.00 goes to it, net 6.00 - 2.00 = 4.00
    assert line(again, 1).cart_discount_amount == Decimal("2.00")
    assert line(again, 1).net_amount == Decimal("4.00")
    assert line(again, 2).cart_discount_amount == Decimal("0")


def test_cart_discount_tie_between_lines_of_different_nets_goes_to_the_lower_line() -> None:
    cart = cart_of((item("A", "4.00"), 1), (item("B", "1.00"), 1), (item("C", "4.00"), 1))
    priced = price(with_cart_discounts(cart, amount_off("0.03")), 2)
    # base 9.00: 0.01333.., 0.00333.., 0.01333.. -> floors 0.01, 0, 0.01; 1 unit left and all
    # three remainders are exactly 1/300 -> tie -> line 1
    assert [entry.cart_discount_amount for entry in priced.lines] == dec("0.02", "0", "0.01")


# --- price(): taxes ------------------------------------------------------------------------


def test_tax_is_computed_on_the_sum_of_a_rules_lines_not_per_line() -> None:
    cart = cart_of((item("A", "0.05", EXT10), 1), (item("B", "0.05", EXT10), 1))
    priced = price(cart, 2)
    # per line 0.005 would round to 0.01 each (0.02); on the sum: 0.10 x 10% = 0.01
    assert len(priced.taxes) == 1
    assert priced.taxes[0].taxable_amount == Decimal("0.10")
    assert priced.taxes[0].tax_amount == Decimal("0.01")


def test_taxes_are_grouped_per_rule_and_sorted_by_code_then_rate() -> None:
    ext10_new_rate = rule("T10", TaxType.EXTERNAL, "12")
    cart = cart_of(
        (item("A", "10.00", EXT10), 1),
        (item("B", "2.00", ext10_new_rate), 1),
        (item("C", "5.40", INT8_DOWN), 1),
        (item("D", "3.00", EXEMPT), 1),
        (item("E", "5.00", EXT10), 2),
    )
    priced = price(cart, 2)
    summary = [(t.tax_code, t.rate, t.taxable_amount, t.tax_amount) for t in priced.taxes]
    assert summary == [
        ("T00", Decimal("0"), Decimal("3.00"), Decimal("0")),  # exempt
        # 5.40 x 8 / 108 = 0.40 exactly
        ("T08", Decimal("8"), Decimal("5.40"), Decimal("0.40")),
        # 10.00 + 2 x 5.00 = 20.00; 20.00 x 10% = 2.00
        ("T10", Decimal("10"), Decimal("20.00"), Decimal("2.00")),
        # same code, other rate: its own group; 2.00 x 12% = 0.24
        ("T10", Decimal("12"), Decimal("2.00"), Decimal("0.24")),
    ]
    assert [t.tax_type for t in priced.taxes] == [
        TaxType.EXEMPT,
        TaxType.INTERNAL,
        TaxType.EXTERNAL,
        TaxType.EXTERNAL,
    ]
    assert priced.taxes[1].name == INT8_DOWN.name
    assert priced.totals.external_tax_total == Decimal("2.24")  # 2.00 + 0.24
    assert priced.totals.internal_tax_total == Decimal("0.40")
    # net 10.00 + 2.00 + 5.40 + 3.00 + 10.00 = 30.40; total = 30.40 + 2.24 (internal is inside)
    assert priced.totals.net_amount == Decimal("30.40")
    assert priced.totals.total_amount == Decimal("32.64")


def test_taxes_use_each_rules_rounding() -> None:
    ext8_down0 = rule("E8", TaxType.EXTERNAL, "8", digits=0, method=DOWN)
    int10_up = rule("I10", TaxType.INTERNAL, "10", method=UP)
    cart = cart_of((item("A", "9.99", ext8_down0), 1), (item("B", "1.00", int10_up), 1))
    priced = price(cart, 2)
    taxes = {t.tax_code: t.tax_amount for t in priced.taxes}
    assert taxes["E8"] == Decimal("0")  # 9.99 x 8% = 0.7992 -> 0 (0 digits, down)
    assert taxes["I10"] == Decimal("0.10")  # 1.00 x 10 / 110 = 0.0909.. -> 0.10 (up)
    assert priced.totals.total_amount == Decimal("10.99")  # 9.99 + 1.00 + 0 external


# --- price(): a whole cart -----------------------------------------------------------------


def full_cart(payments: list[Payment]) -> Cart:
    cart = cart_of(
        (item("A", "12.345", EXT10), 3),  # 3 x 12.345 = 37.035 -> 37.04
        (item("B", "5.40", INT8_DOWN), 2),  # 2 x 5.40 = 10.80
        (item("C", "2.50", EXEMPT, restricted=True), 1),  # 2.50
        (item("D", "7.00", EXT10), 1),  # 7.00, cancelled below
    )
    cart = change_line(cart, 1, discounts=[percent_off("10")])  # 3.704 -> 3.70; net 33.34
    cart = change_line(cart, 2, discounts=[amount_off("0.80")])  # net 10.00
    cart = change_line(cart, 4, is_cancelled=True)
    cart = with_cart_discounts(cart, amount_off("4.00"))
    return price(cart.model_copy(update={"payments": payments}), 2)


def test_whole_cart_lines_and_taxes() -> None:
    priced = full_cart([])
    # cart discount 4.00 over lines 1 (33.34) and 2 (10.00), base 43.34:
    # 4 x 33.34 / 43.34 = 3.07706.. (rem .00706), 4 x 10 / 43.34 = 0.92293.. (rem .00293);
    # floors 3.07 + 0.92 = 3.99, 1 unit -> line 1
    assert [entry.amount for entry in priced.lines] == dec("37.04", "10.80", "2.50", "7.00")
    assert [entry.discount_amount for entry in priced.lines] == dec("3.70", "0.80", "0", "0")
    assert [entry.cart_discount_amount for entry in priced.lines] == dec("3.08", "0.92", "0", "0")
    # 33.34 - 3.08 = 30.26; 10.00 - 0.92 = 9.08
    assert [entry.net_amount for entry in priced.lines] == dec("30.26", "9.08", "2.50", "0")
    summary = [(t.tax_code, t.taxable_amount, t.tax_amount) for t in priced.taxes]
    assert summary == [
        ("T00", Decimal("2.50"), Decimal("0")),
        # 9.08 x 8 / 108 = 72.64 / 108 = 0.67259.. -> 0.67 (down)
        ("T08", Decimal("9.08"), Decimal("0.67")),
        # 30.26 x 10% = 3.026 -> 3.03 (half-up)
        ("T10", Decimal("30.26"), Decimal("3.03")),
    ]


def test_whole_cart_totals_without_payments() -> None:
    totals = full_cart([]).totals
    assert totals.line_count == 3  # line 4 cancelled
    assert totals.item_count == 6  # 3 + 2 + 1
    assert totals.gross_amount == Decimal("50.34")  # 37.04 + 10.80 + 2.50
    assert totals.line_discount_total == Decimal("4.50")  # 3.70 + 0.80
    assert totals.cart_discount_total == Decimal("4.00")
    assert totals.net_amount == Decimal("41.84")  # 50.34 - 4.50 - 4.00
    assert totals.external_tax_total == Decimal("3.03")
    assert totals.internal_tax_total == Decimal("0.67")
    assert totals.total_amount == Decimal("44.87")  # 41.84 + 3.03
    assert totals.paid_amount == Decimal("0")
    assert totals.change_amount == Decimal("0")
    assert totals.balance_due == Decimal("44.87")


def payment(no: int, amount: str, change: str = "0") -> Payment:
    return Payment(
        payment_no=no,
        payment_code=f"P{no}",
        name=f"Payment {no}",
        amount=Decimal(amount),
        change=Decimal(change),
    )


def test_whole_cart_partial_payment_leaves_a_balance() -> None:
    totals = full_cart([payment(1, "10.00")]).totals
    assert totals.paid_amount == Decimal("10.00")
    assert totals.balance_due == Decimal("34.87")  # 44.87 - 10.00


def test_whole_cart_paid_with_change() -> None:
    totals = full_cart([payment(1, "20.00"), payment(2, "30.00", "5.13")]).totals
    assert totals.paid_amount == Decimal("44.87")  # 20.00 + 30.00 - 5.13
    assert totals.change_amount == Decimal("5.13")
    assert totals.balance_due == Decimal("0")  # 44.87 - 44.87


def test_whole_cart_overpaid_without_change_has_a_negative_balance() -> None:
    totals = full_cart([payment(1, "50.00")]).totals
    assert totals.paid_amount == Decimal("50.00")
    assert totals.balance_due == Decimal("-5.13")  # 44.87 - 50.00
