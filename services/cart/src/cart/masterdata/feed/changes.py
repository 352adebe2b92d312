"""What master-data's catalog feed says, as both transports deliver it (the same objects from
the SSE events and from the gRPC stream; each adapter parses its own wire into these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from cart.domain.model import TaxRule
from cart.domain.operations import PaymentMethodInfo


class ChangeKind(StrEnum):
    """The kinds of record the feed carries (master-data's HTTP names)."""

    ITEM = "item"
    STORE_PRICE = "storePrice"
    TAX_RULE = "taxRule"
    PAYMENT_METHOD = "paymentMethod"
    STORE = "store"


@dataclass(frozen=True)
class ItemRecord:
    """An item as master-data keeps it, common to every store."""

    item_code: str
    description: str
    short_description: str
    category_code: str
    tax_code: str
    unit_price: Decimal
    is_discount_restricted: bool
    is_deleted: bool


@dataclass(frozen=True)
class StorePriceRecord:
    store_code: str
    item_code: str
    price: Decimal


@dataclass(frozen=True)
class StoreRecord:
    store_code: str


ChangeValue = ItemRecord | StorePriceRecord | TaxRule | PaymentMethodInfo | StoreRecord


@dataclass(frozen=True)
class CatalogChange:
    """One record changed (`value`) or went (`value` None). `key` holds its key fields
    (item_code, store_code, tax_code, payment_code), empty when master-data could not tell
    which record was deleted: then every record of the kind is suspect."""

    kind: ChangeKind
    key: Mapping[str, str]
    value: ChangeValue | None
    changed_at: datetime
    token: str


@dataclass(frozen=True)
class Heartbeat:
    """Every change up to `token` has been delivered: the subscriber is caught up."""

    token: str


@dataclass(frozen=True)
class StartOver:
    """The history after the subscriber's token is gone: drop the tenant, go on from here."""

    token: str
    reason: str


FeedMessage = CatalogChange | Heartbeat | StartOver
