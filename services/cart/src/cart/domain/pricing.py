"""Pricing: line amounts, discounts, cart-discount allocation, taxes and totals.

All arithmetic is Decimal. The rules, with worked examples in tests/unit/cart/test_pricing.py:

- A line's amount is unit price x quantity, rounded half-up to the money precision
  (MONEY_DECIMALS, 2 by default: 3 x 12.345 = 37.035 -> 37.04).
- A line discount is an amount, or a percentage of the line amount rounded half-up. Discounts
  on a discount-restricted item are refused; together they may not exceed the line amount.
- A cart discount (amount or percentage of the eligible net) is spread over the eligible lines
  (active, not restricted, net > 0) in proportion to their net, in whole money units; the units
  left over by rounding down go one each to the lines with the largest remainders, ties to the
  lower line number. The same cart always allocates the same way.
- Taxes are computed per tax code on the sum of its lines' net amounts: external
  taxable x rate / 100 (added to the total), internal taxable x rate / (100 + rate) (already
  inside the total), exempt nothing; each rounded with the rule's method to the rule's
  digits, but never to more digits than the money precision: a total must be payable in
  whole money units (a 3-digit rule with MONEY_DECIMALS 2 rounds to 2 digits).
- total = net + external taxes; balance due = total - (payments - change).
- Every amount has exactly the money precision's places ("0.00", not "0"); a tax amount has
  its rule's places (at most the money precision's); unit prices keep their own places but
  have at least the money precision's ("4.50", "12.345").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from fractions import Fraction
from functools import cache

from cart.domain.model import (
    ZERO,
    Cart,
    Discount,
    DiscountType,
    LineItem,
    RoundingMethod,
    TaxRule,
    TaxSummary,
    TaxType,
    Totals,
)
from pos_commons.errors import UnprocessableError
from pos_commons.money import AMOUNT_LIMIT

HUNDRED = Decimal(100)

DECIMAL_ROUNDING = {
    RoundingMethod.HALF_UP: ROUND_HALF_UP,
    RoundingMethod.DOWN: ROUND_DOWN,
    RoundingMethod.UP: ROUND_UP,
    RoundingMethod.HALF_EVEN: ROUND_HALF_EVEN,
}


class DiscountExceedsAmountError(UnprocessableError):
    default_code = "DISCOUNT_EXCEEDS_AMOUNT"


class CartTotalTooLargeError(UnprocessableError):
    default_code = "CART_TOTAL_TOO_LARGE"


def _check_within_limit(*amounts: Decimal) -> None:
    """Refuses a cart whose amounts would not fit the models (12 whole digits): each entered
    amount is bounded, their products and sums are not (100 lines of 9,999 at the largest
    price)."""
    largest = max(amounts)
    if largest >= AMOUNT_LIMIT:
        raise CartTotalTooLargeError(
            f"The cart would come to {largest}; a cart's amounts stay below {AMOUNT_LIMIT}.",
            details={"limit": AMOUNT_LIMIT},
        )


@cache
def unit(digits: int) -> Decimal:
    """The smallest amount at `digits` decimal places: 2 -> 0.01."""
    return Decimal(1).scaleb(-digits)


def round_to(
    value: Decimal, digits: int, method: RoundingMethod = RoundingMethod.HALF_UP
) -> Decimal:
    return value.quantize(unit(digits), rounding=DECIMAL_ROUNDING[method])


def discount_amount(discount: Discount, base: Decimal, money_digits: int) -> Decimal:
    if discount.discount_type is DiscountType.AMOUNT:
        return round_to(discount.value, money_digits)
    return round_to(base * discount.value / HUNDRED, money_digits)


def allocate(total: Decimal, weights: Sequence[Decimal], money_digits: int) -> list[Decimal]:
    """Splits `total` over `weights` proportionally in whole money units (largest remainder).

    `total` must not exceed sum(weights); every share is then at most its weight. Computed
    with exact fractions: rounded remainders could rank two equal remainders differently.
    """
    base = sum(weights, ZERO)
    if total == 0 or base == 0:
        return [zero(money_digits) for _ in weights]
    step = Fraction(unit(money_digits))
    exact = [Fraction(total) * Fraction(weight) / Fraction(base) / step for weight in weights]
    units = [math.floor(value) for value in exact]
    left_over = round(Fraction(total) / step) - sum(units)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - units[i]), i))
    for index in by_remainder[:left_over]:
        units[index] += 1
    return [Decimal(count) * unit(money_digits) for count in units]


def tax_digits(rule: TaxRule, money_digits: int) -> int:
    """The places a tax of `rule` is rounded to: the rule's, at most the money precision."""
    return min(rule.rounding_digits, money_digits)


def tax_amount(rule: TaxRule, taxable: Decimal, money_digits: int) -> Decimal:
    digits = tax_digits(rule, money_digits)
    if rule.tax_type is TaxType.EXTERNAL:
        raw = taxable * rule.rate / HUNDRED
    elif rule.tax_type is TaxType.INTERNAL:
        raw = taxable * rule.rate / (HUNDRED + rule.rate)
    else:
        return zero(digits)
    return round_to(raw, digits, rule.rounding_method)


def at_least_places(value: Decimal, digits: int) -> Decimal:
    """`value` with at least `digits` places, none dropped: 4.5 -> 4.50, 12.345 stays."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent < digits:
        return value.quantize(unit(digits))
    return value


@cache
def zero(money_digits: int) -> Decimal:
    """0 at the money precision ("0.00"), the start of every sum, so amounts read alike."""
    return ZERO.quantize(unit(money_digits))


def _same(a: Decimal, b: Decimal) -> bool:
    """The same amount written the same way: 1.5 and 1.50 are equal, not the same."""
    return a.compare_total(b).is_zero()


def _price_line(line: LineItem, money_digits: int) -> LineItem:
    amount = round_to(line.unit_price * line.quantity, money_digits)
    discounts = [_priced_discount(discount, amount, money_digits) for discount in line.discounts]
    nothing = zero(money_digits)
    discounted = sum((d.amount for d in discounts), nothing)
    if discounted > amount:
        raise DiscountExceedsAmountError(
            f"Line {line.line_no}: discounts of {discounted} exceed its amount of {amount}.",
            details={"lineNo": line.line_no, "amount": amount, "discounts": discounted},
        )
    net = amount - discounted
    if (
        _same(line.amount, amount)
        and _same(line.discount_amount, discounted)
        and _same(line.cart_discount_amount, nothing)
        and _same(line.net_amount, net)
        and all(new is old for new, old in zip(discounts, line.discounts, strict=True))
    ):
        return line  # priced as it is already: most lines, on most changes of a cart
    return line.model_copy(
        update={
            "amount": amount,
            "discounts": discounts,
            "discount_amount": discounted,
            "cart_discount_amount": nothing,
            "net_amount": net,
        }
    )


def _priced_discount(discount: Discount, base: Decimal, money_digits: int) -> Discount:
    amount = discount_amount(discount, base, money_digits)
    if _same(discount.amount, amount):
        return discount
    return discount.model_copy(update={"amount": amount})


def is_cart_discount_eligible(line: LineItem) -> bool:
    return not line.is_cancelled and not line.is_discount_restricted and line.net_amount > 0


def price(cart: Cart, money_digits: int) -> Cart:
    """The cart with every computed amount, tax and total brought up to date."""
    nothing = zero(money_digits)
    lines = [
        _price_line(line, money_digits) if not line.is_cancelled else _cancelled(line, nothing)
        for line in cart.lines
    ]
    # The gross bounds the lines, their discounts, the net and the taxable amounts; checked
    # before any of them goes into a model.
    gross = sum((line.amount for line in lines if not line.is_cancelled), nothing)
    _check_within_limit(gross)
    eligible = [i for i, line in enumerate(lines) if is_cart_discount_eligible(line)]
    eligible_net = sum((lines[i].net_amount for i in eligible), nothing)
    cart_discounts = [
        d.model_copy(update={"amount": discount_amount(d, eligible_net, money_digits)})
        for d in cart.cart_discounts
    ]
    cart_discount_total = sum((d.amount for d in cart_discounts), nothing)
    if cart_discount_total > eligible_net:
        raise DiscountExceedsAmountError(
            f"Cart discounts of {cart_discount_total} exceed the discountable amount of "
            f"{eligible_net}.",
            details={"discountable": eligible_net, "discounts": cart_discount_total},
        )
    shares = allocate(cart_discount_total, [lines[i].net_amount for i in eligible], money_digits)
    for index, share in zip(eligible, shares, strict=True):
        line = lines[index]
        if not share:
            continue  # _price_line left it without a cart discount
        lines[index] = line.model_copy(
            update={"cart_discount_amount": share, "net_amount": line.net_amount - share}
        )

    active = [line for line in lines if not line.is_cancelled]
    taxes = _taxes(active, money_digits, cart.taxes)
    net = sum((line.net_amount for line in active), nothing)
    external = sum((t.tax_amount for t in taxes if t.tax_type is TaxType.EXTERNAL), nothing)
    internal = sum((t.tax_amount for t in taxes if t.tax_type is TaxType.INTERNAL), nothing)
    total = net + external
    paid = sum((p.amount - p.change for p in cart.payments), nothing)
    # The total adds external taxes to the net; the payments may pass it.
    _check_within_limit(total, sum((p.amount for p in cart.payments), nothing))
    totals = Totals.model_construct(
        line_count=len(active),
        item_count=sum(line.quantity for line in active),
        gross_amount=gross,
        line_discount_total=sum((line.discount_amount for line in active), nothing),
        cart_discount_total=cart_discount_total,
        net_amount=net,
        external_tax_total=external,
        internal_tax_total=internal,
        total_amount=total,
        paid_amount=paid,
        change_amount=sum((p.change for p in cart.payments), nothing),
        balance_due=total - paid,
        refund_amount=cart.totals.refund_amount.quantize(unit(money_digits)),
    )
    return cart.model_copy(
        update={"lines": lines, "cart_discounts": cart_discounts, "taxes": taxes, "totals": totals}
    )


def _cancelled(line: LineItem, nothing: Decimal) -> LineItem:
    return line.model_copy(
        update={"discount_amount": nothing, "cart_discount_amount": nothing, "net_amount": nothing}
    )


def _taxes(
    lines: Sequence[LineItem], money_digits: int, before: Sequence[TaxSummary]
) -> list[TaxSummary]:
    # Grouped by the whole rule, not only its code: if a rate changed between two scans,
    # each line keeps the rule it was sold under. Keyed by its terms as a tuple, cheaper to
    # hash and compare than the model.
    nothing = zero(money_digits)
    groups: dict[tuple[str, Decimal, str, int, str, str], tuple[TaxRule, Decimal]] = {}
    for line in lines:
        terms = tax_order(line.tax_rule)
        group = groups.get(terms)
        groups[terms] = (
            (line.tax_rule, nothing + line.net_amount)
            if group is None
            else (group[0], group[1] + line.net_amount)
        )
    ordered = [groups[terms] for terms in sorted(groups)]
    return [
        _tax_summary(rule, amount, money_digits, before[i] if i < len(before) else None)
        for i, (rule, amount) in enumerate(ordered)
    ]


def _tax_summary(
    rule: TaxRule, taxable: Decimal, money_digits: int, before: TaxSummary | None
) -> TaxSummary:
    tax = tax_amount(rule, taxable, money_digits)
    if (
        before is not None
        and before.tax_code == rule.tax_code
        and before.name == rule.name
        and before.tax_type is rule.tax_type
        and _same(before.rate, rule.rate)
        and _same(before.taxable_amount, taxable)
        and _same(before.tax_amount, tax)
    ):
        return before  # the tax line as it was: most changes move one rule's line at most
    return TaxSummary.model_construct(
        tax_code=rule.tax_code,
        name=rule.name,
        tax_type=rule.tax_type,
        rate=rule.rate,
        taxable_amount=taxable,
        tax_amount=tax,
    )


def tax_order(rule: TaxRule) -> tuple[str, Decimal, str, int, str, str]:
    """The order of a cart's tax lines: by code and rate, then the rest of the rule, so two
    versions of one code (a rule changed between two scans) always come in the same order."""
    return (
        rule.tax_code,
        rule.rate,
        rule.tax_type.value,
        rule.rounding_digits,
        rule.rounding_method.value,
        rule.name,
    )
