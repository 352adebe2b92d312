"""Every measured run starts with no stored carts: cart's tenant collections are dropped,
the terminals, the catalog and other tenants' data stay."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from cart.storage.carts import CARTS, COUNTERS, IDEMPOTENCY, TRANSACTIONS
from cart.storage.terminals import TERMINALS
from pos_loadtest.comparison.fresh_state import reset_cart_data, stored_carts
from pos_loadtest.probes.database_operations import database_client


@pytest.fixture
def client(mongodb_uri: str) -> Iterator[MongoClient[dict[str, Any]]]:
    with database_client(mongodb_uri) as client:
        yield client


def test_reset_drops_cart_s_tenant_collections_only(client: MongoClient[dict[str, Any]]) -> None:
    tenant, other = f"t{uuid.uuid4().hex[:8]}", f"o{uuid.uuid4().hex[:8]}"
    # cart's databases are named cart_<tenant> (cart.resources); master-data's masterdata_<...>.
    mine, others, catalog = (
        client[f"cart_{tenant}"],
        client[f"cart_{other}"],
        client[f"masterdata_{tenant}"],
    )
    for collection in (CARTS, TRANSACTIONS, COUNTERS, IDEMPOTENCY, TERMINALS):
        mine[collection].insert_many([{"n": 1}, {"n": 2}])
    others[CARTS].insert_one({"n": 1})
    catalog["items"].insert_one({"itemCode": "ITEM0001"})
    assert stored_carts(client, tenant) == 2

    dropped = reset_cart_data(client, tenant)

    assert sorted(dropped) == sorted(
        f"cart_{tenant}.{name}" for name in (CARTS, TRANSACTIONS, COUNTERS, IDEMPOTENCY)
    )
    assert stored_carts(client, tenant) == 0
    assert mine[TERMINALS].count_documents({}) == 2
    assert others[CARTS].count_documents({}) == 1
    assert catalog["items"].count_documents({}) == 1
    # Nothing left to drop the second time.
    assert reset_cart_data(client, tenant) == []
