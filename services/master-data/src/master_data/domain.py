"""master-data's records. The same models are stored (snake_case) and returned (camelCase)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr

from pos_commons.clock import now_ms as now_ms
from pos_commons.models import CamelModel
from pos_commons.money import Money
from pos_commons.tax import RoundingMethod as RoundingMethod
from pos_commons.tax import TaxRuleTerms
from pos_commons.tax import TaxType as TaxType

T = TypeVar("T")


class Record(CamelModel):
    model_config = ConfigDict(frozen=True)

    created_at: datetime
    updated_at: datetime


class Tenant(Record):
    tenant_id: str
    name: str


class Store(Record):
    store_code: str
    name: str
    is_active: bool = True


class Category(Record):
    category_code: str
    name: str
    description: str = ""


class TaxRule(Record, TaxRuleTerms):
    """A tenant's tax rule as stored: its terms and timestamps."""


class PaymentMethod(Record):
    payment_code: str
    name: str
    can_give_change: bool
    can_exceed_balance: bool
    is_active: bool = True


class Item(Record):
    item_code: str
    description: str
    short_description: str = ""
    unit_price: Money
    category_code: str
    tax_code: str
    is_discount_restricted: bool = False
    is_deleted: bool = False


class StorePrice(Record):
    store_code: str
    item_code: str
    price: Money


class TaxRuleView(TaxRuleTerms):
    """The tax rule as embedded in an item detail (no timestamps)."""


class ItemDetail(BaseModel):
    """The merged view cart uses: item, the store's price override and the tax rule.

    Immutable, so a transport may memoize its encoding of it (`memo`): a cached detail is
    then served without being encoded again.
    """

    model_config = Record.model_config
    _memo: dict[str, Any] = PrivateAttr(default_factory=dict)

    item_code: str
    store_code: str
    description: str
    short_description: str
    category_code: str
    tax_code: str
    unit_price: Money
    store_price: Money | None
    effective_price: Money
    is_discount_restricted: bool
    is_deleted: bool
    tax_rule: TaxRuleView
    created_at: datetime
    updated_at: datetime

    def memo(self, key: str, encode: Callable[[ItemDetail], T]) -> T:
        """`encode(self)`, computed once per key for this (immutable) detail."""
        try:
            value: T = self._memo[key]
        except KeyError:
            value = self._memo[key] = encode(self)
        return value

    @classmethod
    def merge(
        cls, item: Item, store_code: str, override: Decimal | None, tax: TaxRule
    ) -> ItemDetail:
        return cls(
            item_code=item.item_code,
            store_code=store_code,
            description=item.description,
            short_description=item.short_description,
            category_code=item.category_code,
            tax_code=item.tax_code,
            unit_price=item.unit_price,
            store_price=override,
            effective_price=item.unit_price if override is None else override,
            is_discount_restricted=item.is_discount_restricted,
            is_deleted=item.is_deleted,
            tax_rule=TaxRuleView(
                tax_code=tax.tax_code,
                name=tax.name,
                tax_type=tax.tax_type,
                rate=tax.rate,
                rounding_digits=tax.rounding_digits,
                rounding_method=tax.rounding_method,
            ),
            created_at=item.created_at,
            updated_at=item.updated_at,
        )


class ItemDetailBatch(BaseModel):
    model_config = Record.model_config

    items: list[ItemDetail]
    not_found_item_codes: list[str]


class ChangeKind(StrEnum):
    """What a catalog change is a change of (the `kind` of a feed event, camelCase on HTTP)."""

    ITEM = "item"
    STORE_PRICE = "storePrice"
    TAX_RULE = "taxRule"
    PAYMENT_METHOD = "paymentMethod"
    STORE = "store"


@dataclass(frozen=True)
class CatalogChange:
    """One record of a tenant's catalog changed: its new value, or gone (`value` None).

    `key` holds the record's key fields (snake_case), empty when the database could not
    say which record was deleted (no pre-image): then every record of `kind` is suspect.
    `token` resumes the feed right after this change. Immutable, so each transport encodes
    it once however many subscribers it goes to (`memo`).
    """

    tenant_id: str
    kind: ChangeKind
    key: Mapping[str, str]
    value: Record | None
    changed_at: datetime
    token: str
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def deleted(self) -> bool:
        return self.value is None

    def memo(self, key: str, encode: Callable[[CatalogChange], T]) -> T:
        try:
            value: T = self._memo[key]
        except KeyError:
            value = self._memo[key] = encode(self)
        return value


@dataclass(frozen=True)
class FeedHeartbeat:
    """Everything up to `token` has been delivered; nothing has changed since."""

    token: str
    sent_at: datetime


@dataclass(frozen=True)
class FeedStartOver:
    """The subscriber's token cannot be resumed from: it drops what it kept of the tenant."""

    token: str
    reason: str


FeedMessage = CatalogChange | FeedHeartbeat | FeedStartOver
