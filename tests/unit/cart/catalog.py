"""What cart's unit tests sell, as master-data describes it: items, tax rules and payment
methods built in one place (a field ItemInfo gains is added here once). Each test module keeps
the texts and defaults its own assertions read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from cart.domain.model import RoundingMethod, TaxRule, TaxType
from cart.domain.operations import ItemInfo, PaymentMethodInfo, PricingPolicy

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
POLICY = PricingPolicy()


def tax_rule(
    code: str,
    tax_type: TaxType,
    rate: str | int,
    *,
    digits: int = 2,
    method: RoundingMethod = RoundingMethod.HALF_UP,
    name: str | None = None,
) -> TaxRule:
    return TaxRule(
        tax_code=code,
        name=name or f"{tax_type.value} {rate}%",
        tax_type=tax_type,
        rate=Decimal(rate),
        rounding_digits=digits,
        rounding_method=method,
    )


def item(
    code: str,
    unit_price: str | Decimal,
    *,
    tax_rule: TaxRule,
    store_price: str | Decimal | None = None,
    description: str | None = None,
    short_description: str | None = None,
    category_code: str = "C",
    restricted: bool = False,
    deleted: bool = False,
) -> ItemInfo:
    """An item at `unit_price`, sold at `store_price` where the store has one."""
    store = None if store_price is None else Decimal(store_price)
    return ItemInfo(
        item_code=code,
        description=f"Item {code}" if description is None else description,
        short_description=code if short_description is None else short_description,
        category_code=category_code,
        effective_price=Decimal(unit_price) if store is None else store,
        is_discount_restricted=restricted,
        is_deleted=deleted,
        tax_rule=tax_rule,
        unit_price=Decimal(unit_price),
        store_price=store,
    )


def payment_method(
    code: str, name: str, *, change: bool, exceed: bool, active: bool = True
) -> PaymentMethodInfo:
    return PaymentMethodInfo(
        payment_code=code,
        name=name,
        can_give_change=change,
        can_exceed_balance=exceed,
        is_active=active,
    )
