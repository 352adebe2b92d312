"""Every measured run starts from the same database: the catalog as loaded, the terminals as
issued, and none of cart's carts, transactions, receipt counters or idempotency records.

Without this, each run would start with the carts of every run before it, and a mode measured
late in a round would work against a bigger database than one measured early. cart is stopped
while this runs (its cart cache holds the carts it wrote); the next cart process creates the
collections and their indexes again on first use, as the first run's did.
"""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient

from cart.storage.carts import CARTS
from cart.storage.terminals import TERMINALS

_SERVER_DATABASES = frozenset({"admin", "local", "config"})


def cart_tenant_databases(client: MongoClient[dict[str, Any]], tenant_id: str) -> list[str]:
    """cart's databases of the tenant: those holding its carts collection, named for the
    tenant (cart keeps one database per tenant)."""
    return [
        name
        for name in client.list_database_names()
        if name not in _SERVER_DATABASES
        and name.endswith(tenant_id)
        and CARTS in client[name].list_collection_names()
    ]


def reset_cart_data(client: MongoClient[dict[str, Any]], tenant_id: str) -> list[str]:
    """Drops every collection of the tenant's cart databases but the terminals; returns the
    dropped namespaces."""
    dropped = []
    for database in cart_tenant_databases(client, tenant_id):
        for collection in client[database].list_collection_names():
            if collection == TERMINALS or collection.startswith("system."):
                continue
            client[database].drop_collection(collection)
            dropped.append(f"{database}.{collection}")
    return dropped


def stored_carts(client: MongoClient[dict[str, Any]], tenant_id: str) -> int:
    """How many carts the tenant has stored (what a run starts with)."""
    return sum(
        client[database][CARTS].count_documents({})
        for database in cart_tenant_databases(client, tenant_id)
    )
