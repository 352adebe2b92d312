"""What a terminal can do to a cart, as pure functions: cart in, new cart out.

Each operation first asks the state machine whether its action is allowed, then applies its
own rules, then reprices. Nothing is changed in place, so a refused operation loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from cart.domain.model import ZERO, Cart, Discount, DiscountType, LineItem, Payment, TaxRule
from cart.domain.pricing import at_least_places, is_cart_discount_eligible, price, unit, zero
from cart.domain.states import Action, CartState, next_state
from pos_commons.errors import ConflictError, NotFoundError, UnprocessableError


@dataclass(frozen=True)
class PricingPolicy:
    money_digits: int = 2
    max_lines: int = 500
    max_amount: Decimal = Decimal(1_000_000)
    """The largest amount a terminal may enter: unit price, discount, payment (cash too);
    a payment of no more than the balance due is always accepted."""


@dataclass(frozen=True)
class ItemInfo:
    """What a cart line needs of an item's master data for one store, as either transport
    delivers it."""

    item_code: str
    description: str
    short_description: str
    category_code: str
    effective_price: Decimal
    """What the line sells at: the store's price when it has one, else the unit price."""
    is_discount_restricted: bool
    is_deleted: bool
    tax_rule: TaxRule
    unit_price: Decimal
    store_price: Decimal | None
    """The two prices effective_price comes from (the item cache recomputes it from them when
    a catalog change moves one)."""


@dataclass(frozen=True)
class ItemRequest:
    item_code: str
    quantity: int
    unit_price: Decimal | None = None


@dataclass(frozen=True)
class PaymentMethodInfo:
    payment_code: str
    name: str
    can_give_change: bool
    can_exceed_balance: bool
    is_active: bool


MAX_QUANTITY = 9_999
MAX_LINE_DISCOUNTS = 10
"""Discounts one line may take: a terminal gives one or two; more is a loop gone wrong, and
each one grows the stored cart and every answer."""
MAX_CART_DISCOUNTS = 10
"""Discounts one cart may take."""
MAX_PAYMENTS = 20
"""Payments one cart may take (a split bill, vouchers, cash for the rest)."""


class AmountTooLargeError(UnprocessableError):
    default_code = "AMOUNT_TOO_LARGE"


def _check_magnitude(value: Decimal, policy: PricingPolicy) -> None:
    if value > policy.max_amount:
        raise AmountTooLargeError(
            f"{value} is more than the largest amount accepted ({policy.max_amount}).",
            details={"maxAmount": policy.max_amount},
        )


def _money_input(
    value: Decimal, policy: PricingPolicy, code: str, allowed: Decimal = ZERO
) -> Decimal:
    """An amount a terminal entered, checked and written at the money precision. Up to
    `allowed` it is accepted whatever the limit (a payment of what is owed is no typo)."""
    if value > allowed:
        _check_magnitude(value, policy)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > policy.money_digits:
        raise UnprocessableError(
            f"{value} has more than {policy.money_digits} decimal places.", code=code
        )
    return value.quantize(unit(policy.money_digits))


def _unit_price(value: Decimal, policy: PricingPolicy) -> Decimal:
    """A unit price keeps its own places (prices may be finer than money), at least money's."""
    _check_magnitude(value, policy)
    return at_least_places(value, policy.money_digits)


def _check_quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise UnprocessableError(
            f"A quantity is between 1 and {MAX_QUANTITY} (cancel the line to remove it).",
            code="INVALID_QUANTITY",
        )


def _advance(cart: Cart, action: Action) -> Cart:
    state = next_state(cart.state, action)
    return cart if state is cart.state else cart.model_copy(update={"state": state})


def _line(cart: Cart, line_no: int) -> LineItem:
    for line in cart.lines:
        if line.line_no == line_no:
            if line.is_cancelled:
                raise ConflictError(
                    f"Line {line_no} is cancelled.",
                    code="LINE_CANCELLED",
                    details={"lineNo": line_no},
                )
            return line
    raise NotFoundError(f"No line {line_no}.", code="LINE_NOT_FOUND", details={"lineNo": line_no})


def _with_line(cart: Cart, line: LineItem, policy: PricingPolicy) -> Cart:
    """The cart with `line` in place of the line of the same number, repriced."""
    lines = [line if old.line_no == line.line_no else old for old in cart.lines]
    return price(cart.model_copy(update={"lines": lines}), policy.money_digits)


def check_item_requests(requests: Sequence[ItemRequest]) -> None:
    """What a request to add items must be whatever the items are (quantities): decidable
    before master-data is asked."""
    for request in requests:
        _check_quantity(request.quantity)


def add_items(
    cart: Cart,
    requests: Sequence[ItemRequest],
    items: Mapping[str, ItemInfo],
    policy: PricingPolicy,
) -> Cart:
    """One new line per request, priced from master data (or the given unit price)."""
    cart = _advance(cart, Action.ADD_ITEMS)
    unknown = sorted({r.item_code for r in requests if r.item_code not in items})
    if unknown:
        raise NotFoundError(
            f"No item {', '.join(unknown)}.", code="ITEM_NOT_FOUND", details={"itemCodes": unknown}
        )
    check_item_requests(requests)
    unsellable = sorted({r.item_code for r in requests if items[r.item_code].is_deleted})
    if unsellable:
        raise UnprocessableError(
            f"Items no longer sold: {', '.join(unsellable)}.",
            code="ITEM_NOT_SELLABLE",
            details={"itemCodes": unsellable},
        )
    if len(cart.lines) + len(requests) > policy.max_lines:
        raise UnprocessableError(
            f"A cart holds at most {policy.max_lines} lines.", code="CART_LINE_LIMIT"
        )
    next_no = max((line.line_no for line in cart.lines), default=0) + 1
    new_lines = []
    for offset, request in enumerate(requests):
        item = items[request.item_code]
        original = at_least_places(item.effective_price, policy.money_digits)
        unit_price = (
            original if request.unit_price is None else _unit_price(request.unit_price, policy)
        )
        new_lines.append(
            LineItem(
                line_no=next_no + offset,
                item_code=item.item_code,
                description=item.description,
                short_description=item.short_description,
                category_code=item.category_code,
                tax_rule=item.tax_rule,
                is_discount_restricted=item.is_discount_restricted,
                quantity=request.quantity,
                unit_price=unit_price,
                original_unit_price=original,
                is_unit_price_changed=unit_price != original,
            )
        )
    return price(cart.model_copy(update={"lines": [*cart.lines, *new_lines]}), policy.money_digits)


def cancel_line(cart: Cart, line_no: int, policy: PricingPolicy) -> Cart:
    cart = _advance(cart, Action.CANCEL_LINE)
    line = _line(cart, line_no)
    return _with_line(cart, line.model_copy(update={"is_cancelled": True}), policy)


def change_quantity(cart: Cart, line_no: int, quantity: int, policy: PricingPolicy) -> Cart:
    cart = _advance(cart, Action.CHANGE_QUANTITY)
    _check_quantity(quantity)
    line = _line(cart, line_no)
    return _with_line(cart, line.model_copy(update={"quantity": quantity}), policy)


def change_unit_price(cart: Cart, line_no: int, unit_price: Decimal, policy: PricingPolicy) -> Cart:
    """Sets the price, keeping the master-data price as the original and marking the change."""
    cart = _advance(cart, Action.CHANGE_UNIT_PRICE)
    line = _line(cart, line_no)
    unit_price = _unit_price(unit_price, policy)
    changed = line.model_copy(
        update={
            "unit_price": unit_price,
            "is_unit_price_changed": unit_price != line.original_unit_price,
        }
    )
    return _with_line(cart, changed, policy)


def _discount(discount_type: DiscountType, value: Decimal, policy: PricingPolicy) -> Discount:
    if value <= 0 or (discount_type is DiscountType.PERCENT and value > 100):
        raise UnprocessableError(
            "A discount is a positive amount, or a percentage above 0 and at most 100.",
            code="INVALID_DISCOUNT",
        )
    if discount_type is DiscountType.AMOUNT:
        value = _money_input(value, policy, "INVALID_DISCOUNT")
    return Discount(discount_type=discount_type, value=value)


def add_line_discount(
    cart: Cart,
    line_no: int,
    discount_type: DiscountType,
    value: Decimal,
    policy: PricingPolicy,
) -> Cart:
    cart = _advance(cart, Action.ADD_LINE_DISCOUNT)
    line = _line(cart, line_no)
    if line.is_discount_restricted:
        raise UnprocessableError(
            f"Item {line.item_code} (line {line_no}) cannot be discounted.",
            code="DISCOUNT_RESTRICTED_ITEM",
            details={"lineNo": line_no, "itemCode": line.item_code},
        )
    if len(line.discounts) >= MAX_LINE_DISCOUNTS:
        raise UnprocessableError(
            f"Line {line_no} already has {MAX_LINE_DISCOUNTS} discounts, the most a line takes.",
            code="LINE_DISCOUNT_LIMIT",
            details={"lineNo": line_no, "limit": MAX_LINE_DISCOUNTS},
        )
    discount = _discount(discount_type, value, policy)
    discounted = line.model_copy(update={"discounts": [*line.discounts, discount]})
    priced = _with_line(cart, discounted, policy)
    _check_not_zero(next(p for p in priced.lines if p.line_no == line_no).discounts[-1])
    return priced


def _check_not_zero(discount: Discount) -> None:
    """A discount worth nothing once rounded to the money precision is a mistake, not a sale:
    refused rather than kept (0.000001 % of a line is 0.00)."""
    if discount.amount == 0:
        raise UnprocessableError(
            f"A discount of {discount.value}"
            f"{' %' if discount.discount_type is DiscountType.PERCENT else ''} comes to 0.00.",
            code="DISCOUNT_ROUNDS_TO_ZERO",
            details={"value": discount.value},
        )


def subtotal(cart: Cart, policy: PricingPolicy) -> Cart:
    cart = _advance(cart, Action.SUBTOTAL)
    if not cart.active_lines():
        raise UnprocessableError("The cart has no items to pay for.", code="NO_ACTIVE_LINES")
    return price(cart, policy.money_digits)


def _no_payments_yet(cart: Cart, what: str) -> None:
    if cart.payments:
        raise ConflictError(
            f"Payments were already taken; {what} is no longer possible.",
            code="PAYMENTS_ALREADY_MADE",
        )


def add_cart_discount(
    cart: Cart, discount_type: DiscountType, value: Decimal, policy: PricingPolicy
) -> Cart:
    cart = _advance(cart, Action.ADD_CART_DISCOUNT)
    _no_payments_yet(cart, "a cart discount")
    if len(cart.cart_discounts) >= MAX_CART_DISCOUNTS:
        raise UnprocessableError(
            f"The cart already has {MAX_CART_DISCOUNTS} discounts, the most a cart takes.",
            code="CART_DISCOUNT_LIMIT",
            details={"limit": MAX_CART_DISCOUNTS},
        )
    discount = _discount(discount_type, value, policy)
    if not any(is_cart_discount_eligible(line) for line in cart.lines):
        raise UnprocessableError(
            "No line of this cart can be discounted.", code="NO_DISCOUNTABLE_LINES"
        )
    priced = price(
        cart.model_copy(update={"cart_discounts": [*cart.cart_discounts, discount]}),
        policy.money_digits,
    )
    _check_not_zero(priced.cart_discounts[-1])
    return priced


def add_payment(
    cart: Cart, method: PaymentMethodInfo, amount: Decimal, policy: PricingPolicy
) -> Cart:
    """Cash may exceed the balance and gives change; methods that may not exceed it cannot."""
    cart = _advance(cart, Action.ADD_PAYMENT)
    if not method.is_active:
        raise UnprocessableError(
            f"Payment method {method.payment_code} is not active.",
            code="PAYMENT_METHOD_INACTIVE",
        )
    if amount <= 0:
        raise UnprocessableError("A payment is a positive amount.", code="INVALID_PAYMENT_AMOUNT")
    if len(cart.payments) >= MAX_PAYMENTS:
        raise UnprocessableError(
            f"The cart already has {MAX_PAYMENTS} payments, the most a cart takes.",
            code="PAYMENT_LIMIT",
            details={"limit": MAX_PAYMENTS},
        )
    balance = cart.totals.balance_due
    amount = _money_input(amount, policy, "INVALID_PAYMENT_AMOUNT", allowed=balance)
    if balance <= 0:
        raise ConflictError("The balance is already covered.", code="NOTHING_TO_PAY")
    change = zero(policy.money_digits)
    if amount > balance:
        if not method.can_exceed_balance:
            raise UnprocessableError(
                f"{method.name} cannot pay more than the balance of {balance}.",
                code="PAYMENT_EXCEEDS_BALANCE",
                details={"balanceDue": balance, "amount": amount},
            )
        if method.can_give_change:
            change = amount - balance
    payment = Payment(
        payment_no=len(cart.payments) + 1,
        payment_code=method.payment_code,
        name=method.name,
        amount=amount,
        change=change,
    )
    return price(
        cart.model_copy(update={"payments": [*cart.payments, payment]}), policy.money_digits
    )


def resume_item_entry(cart: Cart, policy: PricingPolicy) -> Cart:
    """Back to item entry; cart discounts are dropped (they are re-applied after subtotal)."""
    cart = _advance(cart, Action.RESUME_ITEM_ENTRY)
    _no_payments_yet(cart, "resuming item entry")
    return price(cart.model_copy(update={"cart_discounts": []}), policy.money_digits)


def check_billable(cart: Cart) -> None:
    """Refuses to bill unless the action is allowed and the balance is covered."""
    next_state(cart.state, Action.BILL)
    if cart.totals.balance_due > 0:
        raise ConflictError(
            f"A balance of {cart.totals.balance_due} is still due.",
            code="BALANCE_DUE",
            details={"balanceDue": cart.totals.balance_due},
        )


def bill(cart: Cart, receipt_no: int, transaction_id: str) -> Cart:
    check_billable(cart)
    return _advance(cart, Action.BILL).model_copy(
        update={"receipt_no": receipt_no, "transaction_id": transaction_id}
    )


def check_cancellable(cart: Cart) -> None:
    next_state(cart.state, Action.CANCEL)


def cancel(cart: Cart, receipt_no: int, transaction_id: str) -> Cart:
    """Cancelled; payments already taken stay on the cart and are to be given back
    (`totals.refundAmount`, also in the cancel record)."""
    cancelled = _advance(cart, Action.CANCEL)
    totals = cancelled.totals.model_copy(update={"refund_amount": cancelled.totals.paid_amount})
    return cancelled.model_copy(
        update={"receipt_no": receipt_no, "transaction_id": transaction_id, "totals": totals}
    )


def new_cart(
    cart_id: str,
    tenant_id: str,
    store_code: str,
    terminal_no: int,
    now: datetime,
    expires_at: datetime,
    policy: PricingPolicy,
) -> Cart:
    """An empty cart in Idle, its totals already at the money precision ("0.00")."""
    cart = Cart(
        cart_id=cart_id,
        tenant_id=tenant_id,
        store_code=store_code,
        terminal_no=terminal_no,
        state=CartState.IDLE,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
    )
    return price(cart, policy.money_digits)
