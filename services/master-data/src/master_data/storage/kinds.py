"""The record kinds master-data stores, with their keys, indexes and error codes."""

from __future__ import annotations

from pymongo import ASCENDING

from master_data.domain import Category, Item, PaymentMethod, Store, StorePrice, TaxRule
from master_data.storage.records import RecordKind
from pos_commons.mongo import IndexSpec

STORES = RecordKind("stores", Store, ("store_code",), "store", "STORE_NOT_FOUND", "STORE_EXISTS")
CATEGORIES = RecordKind(
    "categories", Category, ("category_code",), "category", "CATEGORY_NOT_FOUND", "CATEGORY_EXISTS"
)
TAX_RULES = RecordKind(
    "tax_rules", TaxRule, ("tax_code",), "tax rule", "TAX_RULE_NOT_FOUND", "TAX_RULE_EXISTS"
)
PAYMENT_METHODS = RecordKind(
    "payment_methods",
    PaymentMethod,
    ("payment_code",),
    "payment method",
    "PAYMENT_METHOD_NOT_FOUND",
    "PAYMENT_METHOD_EXISTS",
)
ITEMS = RecordKind(
    "items",
    Item,
    ("item_code",),
    "item",
    "ITEM_NOT_FOUND",
    "ITEM_EXISTS",
    extra_indexes=(
        IndexSpec("items", [("category_code", ASCENDING)]),
        IndexSpec("items", [("tax_code", ASCENDING)]),
    ),
)
STORE_PRICES = RecordKind(
    "store_prices",
    StorePrice,
    ("store_code", "item_code"),
    "store price",
    "STORE_PRICE_NOT_FOUND",
    "STORE_PRICE_EXISTS",
    extra_indexes=(IndexSpec("store_prices", [("item_code", ASCENDING)]),),
)

ALL_KINDS = (STORES, CATEGORIES, TAX_RULES, PAYMENT_METHODS, ITEMS, STORE_PRICES)
