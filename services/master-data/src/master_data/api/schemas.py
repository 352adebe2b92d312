"""Request bodies of master-data's HTTP API (responses are the domain records, camelCase)."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from master_data.domain import RoundingMethod, TaxType
from pos_commons.envelope import ApiModel
from pos_commons.money import Money, Percentage
from pos_commons.validation import Code, TenantId

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
RoundingDigits = Annotated[int, Field(ge=0, le=6, strict=True)]


class PatchModel(ApiModel):
    """A partial update: omitted fields stay, explicit nulls are refused, empty bodies too."""

    @model_validator(mode="after")
    def _set_fields_are_values(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("nothing to update: give at least one field")
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"fields cannot be null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="python", by_alias=False, exclude_unset=True)


class TenantCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tenantId": "demo", "name": "Demo tenant"}]}
    )

    tenant_id: TenantId
    name: Name


class StoreCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"storeCode": "S001", "name": "Store S001"}]}
    )

    store_code: Code
    name: Name
    is_active: bool = True


class StoreUpdate(PatchModel):
    name: Name | None = None
    is_active: bool | None = None


class CategoryCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"categoryCode": "FRUIT", "name": "Fruit"}]}
    )

    category_code: Code
    name: Name
    description: ShortText = ""


class CategoryUpdate(PatchModel):
    name: Name | None = None
    description: ShortText | None = None


class TaxRuleCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "taxCode": "RED",
                    "name": "Reduced rate (added)",
                    "taxType": "external",
                    "rate": "8",
                    "roundingDigits": 2,
                    "roundingMethod": "halfUp",
                }
            ]
        }
    )

    tax_code: Code
    name: Name
    tax_type: TaxType
    rate: Percentage
    rounding_digits: RoundingDigits = 2
    rounding_method: RoundingMethod = RoundingMethod.HALF_UP


class TaxRuleUpdate(PatchModel):
    name: Name | None = None
    tax_type: TaxType | None = None
    rate: Percentage | None = None
    rounding_digits: RoundingDigits | None = None
    rounding_method: RoundingMethod | None = None


class PaymentMethodCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "paymentCode": "CASH",
                    "name": "Cash",
                    "canGiveChange": True,
                    "canExceedBalance": True,
                }
            ]
        }
    )

    payment_code: Code
    name: Name
    can_give_change: bool
    can_exceed_balance: bool
    is_active: bool = True


class PaymentMethodUpdate(PatchModel):
    name: Name | None = None
    can_give_change: bool | None = None
    can_exceed_balance: bool | None = None
    is_active: bool | None = None


class ItemCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "itemCode": "ITEM0001",
                    "description": "Apples, 1 kg",
                    "shortDescription": "Apples",
                    "unitPrice": "3.49",
                    "categoryCode": "FRUIT",
                    "taxCode": "RED",
                }
            ]
        }
    )

    item_code: Code
    description: Name
    short_description: ShortText = ""
    unit_price: Money
    category_code: Code
    tax_code: Code
    is_discount_restricted: bool = False


class ItemUpdate(PatchModel):
    description: Name | None = None
    short_description: ShortText | None = None
    unit_price: Money | None = None
    category_code: Code | None = None
    tax_code: Code | None = None
    is_discount_restricted: bool | None = None


class StorePriceCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"itemCode": "ITEM0001", "price": "2.99"}]}
    )

    item_code: Code
    price: Money


class StorePriceUpdate(PatchModel):
    price: Money | None = None


class StorePriceRow(ApiModel):
    """A store price in a bulk import: the store is a column of the row."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"storeCode": "S001", "itemCode": "ITEM0001", "price": "2.99"}]
        }
    )

    store_code: Code
    item_code: Code
    price: Money
