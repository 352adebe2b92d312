"""The demo catalog, loaded through master-data's public HTTP API (never behind its back), by
posctl's bulk import.

Deterministic: the same items, prices and flags every time, so tests and load tests can rely
on them. It covers what the product must get right: decimal prices, store overrides, a zero
store price, discount-restricted items, soft-deleted items, every tax type.
Loading is idempotent: the import is an upsert, and what exists already is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pos_cli import operations
from pos_cli.client import AdminClient
from pos_cli.importer import import_rows
from pos_cli.kinds import kind
from pydantic import SecretStr

from master_data.api.bulk import BulkKind

DEMO_TENANT = "demo"
STORES = ("S001", "S002", "S003")
DEMO_STORE = STORES[0]
"""The store of the demo terminal, and of every terminal the load tools and drills register."""
CATEGORIES = {
    "FRUIT": "Fruit",
    "VEG": "Vegetables",
    "DAIRY": "Dairy",
    "BAKERY": "Bakery",
    "DRINKS": "Drinks",
    "SNACKS": "Snacks",
    "HOUSE": "Household",
    "GIFT": "Gift cards",
}
# Besides the four defaults every tenant gets (STD, RED, INC, EXM).
EXTRA_TAX_RULES = (
    {
        "taxCode": "LUX",
        "name": "Luxury rate (added, rounded up)",
        "taxType": "external",
        "rate": "12.5",
        "roundingDigits": 2,
        "roundingMethod": "up",
    },
)
TAX_CODES = ("STD", "RED", "INC", "EXM", "LUX")
PAYMENT_METHODS = (
    {"paymentCode": "CASH", "name": "Cash", "canGiveChange": True, "canExceedBalance": True},
    {"paymentCode": "CARD", "name": "Card", "canGiveChange": False, "canExceedBalance": False},
    {"paymentCode": "VOUCHER", "name": "Voucher", "canGiveChange": False, "canExceedBalance": True},
    {
        "paymentCode": "POINTS",
        "name": "Points (retired)",
        "canGiveChange": False,
        "canExceedBalance": False,
        "isActive": False,
    },
)
ITEM_COUNT = 300
ZERO_PRICE = ("S001", "ITEM0005")


@dataclass
class DemoCatalog:
    tenant_id: str = DEMO_TENANT
    stores: tuple[str, ...] = STORES
    items: list[dict[str, Any]] = field(default_factory=list)
    store_prices: list[tuple[str, str, Decimal]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def item_codes(self) -> list[str]:
        return [item["itemCode"] for item in self.items]

    @property
    def sellable_codes(self) -> list[str]:
        deleted = set(self.deleted)
        return [code for code in self.item_codes if code not in deleted]

    @property
    def restricted_codes(self) -> list[str]:
        return [item["itemCode"] for item in self.items if item["isDiscountRestricted"]]

    def store_price(self, store: str, item_code: str) -> Decimal | None:
        for s, code, price in self.store_prices:
            if s == store and code == item_code:
                return price
        return None


def demo_catalog(item_count: int = ITEM_COUNT) -> DemoCatalog:
    """The demo catalog; a smaller `item_count` gives its first items only (same data)."""
    rng = random.Random(20261122)  # noqa: S311 - reproducible demo data
    catalog = DemoCatalog()
    category_codes = list(CATEGORIES)
    for number in range(1, item_count + 1):
        code = f"ITEM{number:04d}"
        category = category_codes[number % len(category_codes)]
        cents = rng.randint(25, 9_999)
        # Every 17th price has a third decimal place: prices are decimals, not cents.
        price = Decimal(cents) / 100 if number % 17 else Decimal(cents * 10 + 5) / 1000
        catalog.items.append(
            {
                "itemCode": code,
                "description": f"{CATEGORIES[category]} item {number}",
                "shortDescription": f"{category[:4]}-{number}",
                "unitPrice": str(price),
                "categoryCode": category,
                "taxCode": TAX_CODES[number % len(TAX_CODES)],
                "isDiscountRestricted": number % 10 == 0,
            }
        )
        if number % 7 == 0:
            discount = Decimal(rng.choice((90, 85, 95))) / 100
            catalog.store_prices.append(
                ("S001", code, (price * discount).quantize(Decimal("0.01")))
            )
        if number % 11 == 0:
            catalog.store_prices.append(("S002", code, price + Decimal("0.50")))
        if number % 25 == 0:
            catalog.deleted.append(code)
    catalog.store_prices.append((*ZERO_PRICE, Decimal("0")))
    return catalog


class SeedError(RuntimeError):
    pass


async def load_demo_catalog(
    master_data_url: str, admin_token: str, catalog: DemoCatalog | None = None
) -> DemoCatalog:
    """Loads `catalog` (the demo's by default) through posctl's own code: the tenant and its
    stores, then each kind in bulk (an upsert: loading it again changes nothing), then the
    soft deletes."""
    catalog = catalog or demo_catalog()
    await asyncio.to_thread(_load, master_data_url, admin_token, catalog)
    return catalog


def _load(master_data_url: str, admin_token: str, catalog: DemoCatalog) -> None:
    tenant = catalog.tenant_id
    token = SecretStr(admin_token)
    with AdminClient("master-data", master_data_url, token, "ADMIN_TOKEN", 30) as client:
        operations.create_tenant(client, tenant, "Demo tenant", exist_ok=True)
        for store in STORES:
            operations.add_store(client, tenant, store, f"Store {store}", exist_ok=True)
        rows: dict[BulkKind, list[dict[str, Any]]] = {
            BulkKind.TAX_RULES: list(EXTRA_TAX_RULES),
            BulkKind.CATEGORIES: [
                {"categoryCode": code, "name": name} for code, name in CATEGORIES.items()
            ],
            BulkKind.PAYMENT_METHODS: list(PAYMENT_METHODS),
            BulkKind.ITEMS: catalog.items,
            BulkKind.STORE_PRICES: [
                {"storeCode": store, "itemCode": code, "price": str(price)}
                for store, code, price in catalog.store_prices
            ],
        }
        for name, kind_rows in rows.items():
            summary = import_rows(client, tenant, kind(name), kind_rows)
            if summary.rejected:
                raise SeedError(f"{name}: {summary.counts()}: {summary.problems[:3]}")
        for code in catalog.deleted:
            client.call("DELETE", f"/api/v1/tenants/{tenant}/items/{code}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load the demo catalog into master-data.")
    parser.add_argument("--url", required=True, help="master-data base URL")
    parser.add_argument("--admin-token", required=True)
    options = parser.parse_args(argv)
    catalog = asyncio.run(load_demo_catalog(options.url, options.admin_token))
    print(
        f"demo catalog loaded: tenant {catalog.tenant_id!r}, {len(catalog.items)} items "
        f"({len(catalog.deleted)} soft-deleted), {len(catalog.store_prices)} store prices"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
