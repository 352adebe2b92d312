"""The cart as stored: snake_case in MongoDB. The API answers what a terminal sees of it,
`CartPublic` (cart/api/public.py: no tenant id, version or idempotency keys); the parts
(lines, discounts, payments, taxes, totals) are shown as they are, camelCase.

Amounts named `*_amount`, `*_total` and `balance_due` are computed by pricing on every change
and stored with the cart, so a read (and the transaction record) needs no recomputation.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from cart.domain.states import CartState
from pos_commons.clock import now_ms as now_ms
from pos_commons.models import CamelModel
from pos_commons.money import Money, Percentage, SignedMoney
from pos_commons.tax import RoundingMethod as RoundingMethod
from pos_commons.tax import TaxRuleTerms
from pos_commons.tax import TaxType as TaxType

ZERO = Decimal(0)


class CartModel(CamelModel):
    """Base of cart's models."""


class TaxRule(TaxRuleTerms):
    """The item's tax rule as master-data gave it when the line was added."""


class DiscountType(StrEnum):
    AMOUNT = "amount"
    PERCENT = "percent"


class Discount(CartModel):
    discount_type: DiscountType
    value: Money
    amount: Money = ZERO


class LineItem(CartModel):
    line_no: int
    item_code: str
    description: str
    short_description: str
    category_code: str
    tax_rule: TaxRule
    is_discount_restricted: bool
    quantity: int
    unit_price: Money
    original_unit_price: Money
    is_unit_price_changed: bool = False
    is_cancelled: bool = False
    discounts: list[Discount] = Field(default_factory=list)
    amount: Money = ZERO
    discount_amount: Money = ZERO
    cart_discount_amount: Money = ZERO
    net_amount: Money = ZERO


class Payment(CartModel):
    payment_no: int
    payment_code: str
    name: str
    amount: Money
    change: Money = ZERO


class TaxSummary(CartModel):
    tax_code: str
    name: str
    tax_type: TaxType
    rate: Percentage
    taxable_amount: Money
    tax_amount: Money


class Totals(CartModel):
    line_count: int = 0
    item_count: int = 0
    gross_amount: Money = ZERO
    line_discount_total: Money = ZERO
    cart_discount_total: Money = ZERO
    net_amount: Money = ZERO
    external_tax_total: Money = ZERO
    internal_tax_total: Money = ZERO
    total_amount: Money = ZERO
    paid_amount: Money = ZERO
    change_amount: Money = ZERO
    balance_due: SignedMoney = ZERO
    refund_amount: Money = ZERO
    """What must be given back: the payments of a cart cancelled after it took some."""


class Cart(CartModel):
    cart_id: str
    tenant_id: str
    store_code: str
    terminal_no: int
    state: CartState
    version: int = 1
    lines: list[LineItem] = Field(default_factory=list)
    cart_discounts: list[Discount] = Field(default_factory=list)
    payments: list[Payment] = Field(default_factory=list)
    taxes: list[TaxSummary] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)
    receipt_no: int | None = None
    transaction_id: str | None = None
    idempotency_keys: list[str] = Field(default_factory=list, exclude=True)
    """The Idempotency-Key values of the last changes, written with them (stored, not shown):
    a retried change whose key is here was applied already."""
    created_at: datetime
    updated_at: datetime
    expires_at: datetime

    def active_lines(self) -> list[LineItem]:
        return [line for line in self.lines if not line.is_cancelled]
