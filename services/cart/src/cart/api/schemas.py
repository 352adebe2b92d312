"""Request bodies of cart's HTTP API (answers: cart/api/public.py), camelCase."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, RootModel

from cart.domain.model import DiscountType
from cart.domain.operations import MAX_QUANTITY
from pos_commons.envelope import ApiModel
from pos_commons.money import Money
from pos_commons.validation import Code, TenantId

Quantity = Annotated[
    int,
    # The range is the domain's rule (INVALID_QUANTITY, cart/domain/operations.py): shown
    # here for clients, checked there, once.
    Field(strict=True, json_schema_extra={"minimum": 1, "maximum": MAX_QUANTITY}),
]
MAX_ITEMS_PER_REQUEST = 100


class ItemEntry(ApiModel):
    item_code: Code
    quantity: Quantity = 1
    unit_price: Money | None = Field(
        default=None, description="Sell at this price instead of master-data's (kept as changed)."
    )


class AddItems(RootModel[list[ItemEntry]]):
    """A JSON array of items; each becomes one line. One master-data call for all of them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                [
                    {"itemCode": "ITEM0001", "quantity": 2},
                    {"itemCode": "ITEM0007"},
                    {"itemCode": "ITEM0003", "unitPrice": "4.50"},
                ]
            ]
        }
    )

    root: Annotated[list[ItemEntry], Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)]


class QuantityChange(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"quantity": 3}]})

    quantity: Quantity


class UnitPriceChange(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"unitPrice": "9.99"}]})

    unit_price: Money


class DiscountRequest(ApiModel):
    """An amount off, or a percentage (0 to 100) of what it applies to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"discountType": "percent", "value": "10"},
                {"discountType": "amount", "value": "2.00"},
            ]
        }
    )

    discount_type: DiscountType
    value: Money


class PaymentRequest(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"paymentCode": "CASH", "amount": "400.00"}]}
    )

    payment_code: Code
    amount: Money


class TerminalCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tenantId": "demo", "storeCode": "S001", "terminalNo": 1}]}
    )

    tenant_id: TenantId
    store_code: Code
    terminal_no: Annotated[int, Field(strict=True, ge=1, le=9_999)]
