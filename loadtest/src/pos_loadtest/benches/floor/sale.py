"""cart's sale on plain dicts, for the bare cart (bare_cart.py): the state machine, the
arithmetic (cart/domain/pricing.py, operations.py), the stored documents and the public view,
and the request bodies the locust scenario sends, checked by hand.

A cart is a dict shaped as cart's stored document (snake_case, `Decimal` amounts, UTC
datetimes, `_id` first and the idempotency keys last), so the same object is what the
process keeps, what MongoDB stores and, camelCased, what the terminal is answered. Nothing
is changed in place: an operation returns a new cart (a refused one loses nothing), as
cart's operations do. Only the actions the scenario makes are here (no discounts, no line
changes): the parity check (tests/loadtest/test_floor_parity.py) keeps them to cart's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

import orjson

Document = dict[str, Any]

CART_TTL = timedelta(seconds=86_400)
MAX_ITEMS_PER_REQUEST = 100
MAX_QUANTITY = 9_999
MAX_LINES = 500
MAX_PAYMENTS = 20
MAX_AMOUNT = Decimal(1_000_000)
AMOUNT_LIMIT = Decimal(10) ** 12
MAX_DIGITS = 18
MAX_PLACES = 6
MONEY_PLACES = 2
MONEY = Decimal(1).scaleb(-MONEY_PLACES)
ZERO = Decimal(0).quantize(MONEY)
HUNDRED = Decimal(100)
ROUNDING = {
    "halfUp": ROUND_HALF_UP,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "halfEven": ROUND_HALF_EVEN,
}

IDLE = "Idle"
ENTERING = "EnteringItem"
PAYING = "Paying"
COMPLETED = "Completed"
CANCELLED = "Cancelled"
ADD_ITEMS = "addItems"
SUBTOTAL = "subtotal"
ADD_PAYMENT = "addPayment"
BILL = "bill"
CANCEL = "cancel"
TRANSITIONS = {
    (IDLE, ADD_ITEMS): ENTERING,
    (IDLE, CANCEL): CANCELLED,
    (ENTERING, ADD_ITEMS): ENTERING,
    (ENTERING, SUBTOTAL): PAYING,
    (ENTERING, CANCEL): CANCELLED,
    (PAYING, ADD_PAYMENT): PAYING,
    (PAYING, BILL): COMPLETED,
    (PAYING, CANCEL): CANCELLED,
}
"""cart's state machine (cart/domain/states.py), for the actions this cart serves."""

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")


class RefusedError(Exception):
    """An answer other than success: its status, code and message (cart's error envelope)."""

    def __init__(
        self, status: int, code: str, message: str, details: Document | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


# -- arithmetic: cart/domain/pricing.py and operations.py on plain dicts ----------------------


def now_ms() -> datetime:
    """Now in UTC, to the millisecond MongoDB keeps (pos_commons.clock)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _places(digits: int) -> Decimal:
    return Decimal(1).scaleb(-digits)


def at_least_places(value: Decimal) -> Decimal:
    """A price with at least the money's places, none dropped: 4.5 -> 4.50, 12.345 stays."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent < MONEY_PLACES:
        return value.quantize(MONEY)
    return value


def _within_limit(*amounts: Decimal) -> None:
    largest = max(amounts)
    if largest >= AMOUNT_LIMIT:
        raise RefusedError(
            422,
            "CART_TOTAL_TOO_LARGE",
            f"The cart would come to {largest}; a cart's amounts stay below {AMOUNT_LIMIT}.",
            {"limit": AMOUNT_LIMIT},
        )


def _tax_amount(rule: Document, taxable: Decimal) -> Decimal:
    digits = min(rule["rounding_digits"], MONEY_PLACES)
    rate: Decimal = rule["rate"]
    if rule["tax_type"] == "external":
        raw = taxable * rate / HUNDRED
    elif rule["tax_type"] == "internal":
        raw = taxable * rate / (HUNDRED + rate)
    else:
        return Decimal(0).quantize(_places(digits))
    return raw.quantize(_places(digits), rounding=ROUNDING[rule["rounding_method"]])


def price(cart: Document) -> Document:
    """The cart with its line amounts, taxes and totals brought up to date (no discounts:
    nothing here makes any)."""
    lines: list[Document] = []
    active: list[Document] = []
    gross = ZERO
    for line in cart["lines"]:
        if line["is_cancelled"]:
            lines.append(
                {**line, "discount_amount": ZERO, "cart_discount_amount": ZERO, "net_amount": ZERO}
            )
            continue
        amount = (line["unit_price"] * line["quantity"]).quantize(MONEY, rounding=ROUND_HALF_UP)
        priced = {
            **line,
            "amount": amount,
            "discount_amount": ZERO,
            "cart_discount_amount": ZERO,
            "net_amount": amount,
        }
        lines.append(priced)
        active.append(priced)
        gross += amount
    _within_limit(gross)
    # Taxes per whole rule (a rate changed between two scans keeps both), in cart's order.
    taxable: dict[tuple[Any, ...], tuple[Document, Decimal]] = {}
    for line in active:
        rule = line["tax_rule"]
        key = (
            rule["tax_code"],
            rule["rate"],
            rule["tax_type"],
            rule["rounding_digits"],
            rule["rounding_method"],
            rule["name"],
        )
        first, amount = taxable.get(key, (rule, ZERO))
        taxable[key] = (first, amount + line["net_amount"])
    taxes = []
    external = internal = ZERO
    for key in sorted(taxable):
        rule, amount = taxable[key]
        tax = _tax_amount(rule, amount)
        if rule["tax_type"] == "external":
            external += tax
        elif rule["tax_type"] == "internal":
            internal += tax
        taxes.append(
            {
                "tax_code": rule["tax_code"],
                "name": rule["name"],
                "tax_type": rule["tax_type"],
                "rate": rule["rate"],
                "taxable_amount": amount,
                "tax_amount": tax,
            }
        )
    net = sum((line["net_amount"] for line in active), ZERO)
    total = net + external
    payments = cart["payments"]
    paid = sum((p["amount"] - p["change"] for p in payments), ZERO)
    _within_limit(total, sum((p["amount"] for p in payments), ZERO))
    totals = {
        "line_count": len(active),
        "item_count": sum(line["quantity"] for line in active),
        "gross_amount": gross,
        "line_discount_total": ZERO,
        "cart_discount_total": ZERO,
        "net_amount": net,
        "external_tax_total": external,
        "internal_tax_total": internal,
        "total_amount": total,
        "paid_amount": paid,
        "change_amount": sum((p["change"] for p in payments), ZERO),
        "balance_due": total - paid,
        "refund_amount": cart["totals"]["refund_amount"].quantize(MONEY),
    }
    return {**cart, "lines": lines, "taxes": taxes, "totals": totals}


def advance(cart: Document, action: str) -> Document:
    """The cart in the state after `action`, or 409 as cart refuses it."""
    state = TRANSITIONS.get((cart["state"], action))
    if state is None:
        raise _not_allowed(cart["state"], action)
    return {**cart, "state": state}


def _snake_upper(name: str) -> str:
    return "".join(f"_{c}" if c.isupper() else c for c in name).upper().lstrip("_")


def _not_allowed(state: str, action: str) -> RefusedError:
    allowed = [a for (s, a) in TRANSITIONS if s == state]
    return RefusedError(
        409,
        f"{_snake_upper(action)}_NOT_ALLOWED_IN_{_snake_upper(state)}",
        f"{action} is not allowed in a cart in state {state}.",
        {"state": state, "action": action, "allowedActions": allowed},
    )


def new_cart(cart_id: str, terminal: Document, now: datetime) -> Document:
    """An empty cart as cart stores it (`_id` first, the idempotency keys last)."""
    cart = {
        "_id": cart_id,
        "cart_id": cart_id,
        "tenant_id": terminal["tenant_id"],
        "store_code": terminal["store_code"],
        "terminal_no": terminal["terminal_no"],
        "state": IDLE,
        "version": 1,
        "lines": [],
        "cart_discounts": [],
        "payments": [],
        "taxes": [],
        "totals": {"refund_amount": Decimal(0)},
        "receipt_no": None,
        "transaction_id": None,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + CART_TTL,
        "idempotency_keys": [],
    }
    return price(cart)


def add_items(
    cart: Document, requests: list[tuple[str, int, Decimal | None]], items: dict[str, Document]
) -> Document:
    cart = advance(cart, ADD_ITEMS)
    unknown = sorted({code for code, _, _ in requests if code not in items})
    if unknown:
        raise RefusedError(
            404, "ITEM_NOT_FOUND", f"No item {', '.join(unknown)}.", {"itemCodes": unknown}
        )
    unsellable = sorted({code for code, _, _ in requests if items[code]["is_deleted"]})
    if unsellable:
        raise RefusedError(
            422,
            "ITEM_NOT_SELLABLE",
            f"Items no longer sold: {', '.join(unsellable)}.",
            {"itemCodes": unsellable},
        )
    lines = cart["lines"]
    if len(lines) + len(requests) > MAX_LINES:
        raise RefusedError(422, "CART_LINE_LIMIT", f"A cart holds at most {MAX_LINES} lines.")
    next_no = max((line["line_no"] for line in lines), default=0) + 1
    added = []
    for offset, (code, quantity, entered) in enumerate(requests):
        item = items[code]
        original = at_least_places(item["effective_price"])
        unit_price = original
        if entered is not None:
            _check_magnitude(entered)
            unit_price = at_least_places(entered)
        added.append(
            {
                "line_no": next_no + offset,
                "item_code": item["item_code"],
                "description": item["description"],
                "short_description": item["short_description"],
                "category_code": item["category_code"],
                "tax_rule": item["tax_rule"],
                "is_discount_restricted": item["is_discount_restricted"],
                "quantity": quantity,
                "unit_price": unit_price,
                "original_unit_price": original,
                "is_unit_price_changed": unit_price != original,
                "is_cancelled": False,
                "discounts": [],
                "amount": ZERO,
                "discount_amount": ZERO,
                "cart_discount_amount": ZERO,
                "net_amount": ZERO,
            }
        )
    return price({**cart, "lines": [*lines, *added]})


def _check_magnitude(value: Decimal) -> None:
    if value > MAX_AMOUNT:
        raise RefusedError(
            422,
            "AMOUNT_TOO_LARGE",
            f"{value} is more than the largest amount accepted ({MAX_AMOUNT}).",
            {"maxAmount": MAX_AMOUNT},
        )


def subtotal(cart: Document) -> Document:
    cart = advance(cart, SUBTOTAL)
    if not any(not line["is_cancelled"] for line in cart["lines"]):
        raise RefusedError(422, "NO_ACTIVE_LINES", "The cart has no items to pay for.")
    return price(cart)


def add_payment(cart: Document, method: Document, amount: Decimal) -> Document:
    """Cash may exceed the balance and gives change; methods that may not exceed it cannot."""
    cart = advance(cart, ADD_PAYMENT)
    if not method["is_active"]:
        raise RefusedError(
            422,
            "PAYMENT_METHOD_INACTIVE",
            f"Payment method {method['payment_code']} is not active.",
        )
    if amount <= 0:
        raise RefusedError(422, "INVALID_PAYMENT_AMOUNT", "A payment is a positive amount.")
    payments = cart["payments"]
    if len(payments) >= MAX_PAYMENTS:
        raise RefusedError(
            422,
            "PAYMENT_LIMIT",
            f"The cart already has {MAX_PAYMENTS} payments, the most a cart takes.",
            {"limit": MAX_PAYMENTS},
        )
    balance: Decimal = cart["totals"]["balance_due"]
    if amount > balance:
        _check_magnitude(amount)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MONEY_PLACES:
        raise RefusedError(
            422, "INVALID_PAYMENT_AMOUNT", f"{amount} has more than {MONEY_PLACES} decimal places."
        )
    amount = amount.quantize(MONEY)
    if balance <= 0:
        raise RefusedError(409, "NOTHING_TO_PAY", "The balance is already covered.")
    change = ZERO
    if amount > balance:
        if not method["can_exceed_balance"]:
            raise RefusedError(
                422,
                "PAYMENT_EXCEEDS_BALANCE",
                f"{method['name']} cannot pay more than the balance of {balance}.",
                {"balanceDue": balance, "amount": amount},
            )
        if method["can_give_change"]:
            change = amount - balance
    payment = {
        "payment_no": len(payments) + 1,
        "payment_code": method["payment_code"],
        "name": method["name"],
        "amount": amount,
        "change": change,
    }
    return price({**cart, "payments": [*payments, payment]})


def check_billable(cart: Document) -> None:
    if (cart["state"], BILL) not in TRANSITIONS:
        raise _not_allowed(cart["state"], BILL)
    due = cart["totals"]["balance_due"]
    if due > 0:
        raise RefusedError(
            409, "BALANCE_DUE", f"A balance of {due} is still due.", {"balanceDue": due}
        )


def check_cancellable(cart: Document) -> None:
    if (cart["state"], CANCEL) not in TRANSITIONS:
        raise _not_allowed(cart["state"], CANCEL)


def bill(cart: Document, receipt_no: int, transaction_id: str) -> Document:
    check_billable(cart)
    return {**advance(cart, BILL), "receipt_no": receipt_no, "transaction_id": transaction_id}


def cancel(cart: Document, receipt_no: int, transaction_id: str) -> Document:
    cancelled = advance(cart, CANCEL)
    totals = {**cancelled["totals"], "refund_amount": cancelled["totals"]["paid_amount"]}
    return {
        **cancelled,
        "receipt_no": receipt_no,
        "transaction_id": transaction_id,
        "totals": totals,
    }


@dataclass(frozen=True)
class Closing:
    """Bill or cancel: its action, the state it leaves, its check and its change."""

    action: str
    done: str
    record_type: str
    check: Callable[[Document], None]
    close: Callable[[Document, int, str], Document]


BILLING = Closing(BILL, COMPLETED, "sale", check_billable, bill)
CANCELLING = Closing(CANCEL, CANCELLED, "cancel", check_cancellable, cancel)


def transaction_record(cart: Document, record_type: str) -> Document:
    """The transaction record as cart stores it (cart/storage/transactions.py)."""
    return {
        "_id": cart["transaction_id"],
        "transaction_id": cart["transaction_id"],
        "transaction_type": record_type,
        "receipt_no": cart["receipt_no"],
        "tenant_id": cart["tenant_id"],
        "store_code": cart["store_code"],
        "terminal_no": cart["terminal_no"],
        "cart_id": cart["cart_id"],
        "lines": cart["lines"],
        "cart_discounts": cart["cart_discounts"],
        "payments": cart["payments"],
        "taxes": cart["taxes"],
        "totals": cart["totals"],
        "created_at": cart["updated_at"],
    }


# -- the answers: cart's envelope and public cart ---------------------------------------------

_CAMEL: dict[str, str] = {}


def _camel(name: str) -> str:
    camel = _CAMEL.get(name)
    if camel is None:
        head, *rest = name.split("_")
        camel = _CAMEL[name] = head + "".join(part.title() for part in rest)
    return camel


def _camel_dict(document: Document) -> Document:
    return {_camel(name): value for name, value in document.items()}


_PUBLIC = (
    "cart_id",
    "store_code",
    "terminal_no",
    "state",
    "lines",
    "cart_discounts",
    "payments",
    "taxes",
    "totals",
    "receipt_no",
    "transaction_id",
    "created_at",
    "updated_at",
    "expires_at",
)
"""The fields of cart's CartPublic, in its order."""


def public(cart: Document) -> Document:
    shown = {_camel(name): cart[name] for name in _PUBLIC}
    lines = []
    for line in cart["lines"]:
        wire = _camel_dict(line)
        wire["taxRule"] = _camel_dict(line["tax_rule"])
        wire["discounts"] = [_camel_dict(d) for d in line["discounts"]]
        lines.append(wire)
    shown["lines"] = lines
    shown["cartDiscounts"] = [_camel_dict(d) for d in cart["cart_discounts"]]
    shown["payments"] = [_camel_dict(p) for p in cart["payments"]]
    shown["taxes"] = [_camel_dict(t) for t in cart["taxes"]]
    shown["totals"] = _camel_dict(cart["totals"])
    return shown


# -- requests -----------------------------------------------------------------------------------


def invalid(message: str) -> RefusedError:
    return RefusedError(422, "VALIDATION_FAILED", message)


def _body(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RefusedError(400, "INVALID_JSON", "The body is not JSON.") from None


def _code(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise invalid(f"{what} is a code of letters, digits, '_', '.' and '-'.")
    return value


def _amount(value: Any, what: str) -> Decimal:
    """A non-negative amount as cart's Money reads it: an integer or a decimal string."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return Decimal(value)
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise invalid(f'{what} is a decimal string such as "12.30".')
    amount = Decimal(value)
    _, digits, exponent = amount.as_tuple()
    if isinstance(exponent, int) and (-exponent > MAX_PLACES or len(digits) > MAX_DIGITS):
        raise invalid(f"{what} has too many digits.")
    return amount


def item_requests(raw: bytes) -> list[tuple[str, int, Decimal | None]]:
    """[(itemCode, quantity, unitPrice or None)] from `[{"itemCode", "quantity"?,
    "unitPrice"?}]`; quantities checked as cart checks them, before anything else."""
    entries = _body(raw)
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_ITEMS_PER_REQUEST:
        raise invalid(f"A list of 1 to {MAX_ITEMS_PER_REQUEST} items.")
    requests = []
    for entry in entries:
        if not isinstance(entry, dict) or not set(entry) <= {"itemCode", "quantity", "unitPrice"}:
            raise invalid("An item is {itemCode, quantity?, unitPrice?}.")
        quantity = entry.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise invalid("A quantity is an integer.")
        entered = entry.get("unitPrice")
        requests.append(
            (
                _code(entry.get("itemCode"), "itemCode"),
                quantity,
                None if entered is None else _amount(entered, "unitPrice"),
            )
        )
    for _, quantity, _ in requests:
        if not 1 <= quantity <= MAX_QUANTITY:
            raise RefusedError(
                422,
                "INVALID_QUANTITY",
                f"A quantity is between 1 and {MAX_QUANTITY} (cancel the line to remove it).",
            )
    return requests


def payment_request(raw: bytes) -> tuple[str, Decimal]:
    body = _body(raw)
    if not isinstance(body, dict) or set(body) != {"paymentCode", "amount"}:
        raise invalid("A payment is {paymentCode, amount}.")
    return _code(body["paymentCode"], "paymentCode"), _amount(body["amount"], "amount")
