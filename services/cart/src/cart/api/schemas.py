"""Request bodies of cart's HTTP API (responses are the domain models, camelCase)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, RootModel

from cart.domain.model import DiscountType
from pos_commons.envelope import ApiModel
from pos_commons.money import Money
from pos_commons.validation import Code, TenantId

Quantity = Annotated[int, Field(strict=True, ge=1, le=9_999)]
MAX_ITEMS_PER_REQUEST = 100


class ItemEntry(ApiModel):
    item_code: Code
    quantity: Quantity = 1
    unit_price: Money | None = Field(
        default=None, description="Sell at this price instead of master-data's (kept as changed)."
    )


class AddItems(RootModel[list[ItemEntry]]):
    """A JSON array of items; each becomes one line. One master-data call for all of them."""

    root: Annotated[list[ItemEntry], Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)]


class QuantityChange(ApiModel):
    quantity: Quantity


class UnitPriceChange(ApiModel):
    unit_price: Money


class DiscountRequest(ApiModel):
    discount_type: DiscountType
    value: Money


class PaymentRequest(ApiModel):
    payment_code: Code
    amount: Money


class TerminalCreate(ApiModel):
    tenant_id: TenantId
    store_code: Code
    terminal_no: Annotated[int, Field(strict=True, ge=1, le=9_999)]
