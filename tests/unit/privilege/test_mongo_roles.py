"""deploy/mongo/roles.json against the services' code: each service's MongoDB role names
exactly the collections its code uses (the constants imported from the code, and every
`db[NAME]` of its sources resolved), the two services' collections are disjoint, and no
privilege writes anything but a service's own collection names.

Pure: no database. tests/privilege/test_mongo_users.py runs both services under these roles.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

import cart
import master_data
from cart.storage import DATABASE_PREFIX as CART_PREFIX
from cart.storage.carts import CARTS, COUNTERS, IDEMPOTENCY, INDEXES, TRANSACTIONS
from cart.storage.terminals import TERMINALS
from master_data.services.tenants import TENANTS
from master_data.storage import DATABASE_PREFIX as MASTER_DATA_PREFIX
from master_data.storage.changes import MARKS, WATCHED
from master_data.storage.kinds import ALL_KINDS
from pos_commons.mongo import readiness_collection
from pos_devstack.paths import REPO_ROOT

ROLES_FILE = REPO_ROOT / "deploy/mongo/roles.json"

CODE_COLLECTIONS = {
    "cart": {
        CARTS, TRANSACTIONS, COUNTERS, IDEMPOTENCY, TERMINALS, readiness_collection(CART_PREFIX),
    },
    "master-data": {
        *(kind.collection for kind in ALL_KINDS),
        TENANTS,
        MARKS,
        readiness_collection(MASTER_DATA_PREFIX),
    },
}  # fmt: skip
PACKAGES = {"cart": cart, "master-data": master_data}
WRITES = {
    "insert", "update", "remove", "createCollection", "createIndex", "collMod", "dropCollection",
    "dropIndex", "dropDatabase", "renameCollectionSameDB", "bypassDocumentValidation",
}  # fmt: skip
READS = {"find", "changeStream", "killCursors"}
# The one privilege on every database's collections: master-data's deployment-wide change
# stream (MongoDB authorizes one only with find and changeStream on every normal collection).
EVERY_COLLECTION = {"db": "", "collection": ""}
CHANGE_STREAM_ACTIONS = {"find", "changeStream", "killCursors"}


def _users() -> dict[str, Any]:
    users: dict[str, Any] = json.loads(ROLES_FILE.read_text())["users"]
    return users


def _by_service() -> dict[str, dict[str, Any]]:
    return {spec["service"]: spec for spec in _users().values()}


def _collections(spec: dict[str, Any]) -> dict[str, set[str]]:
    """Collection name -> actions, for the privileges on one collection name."""
    granted: dict[str, set[str]] = {}
    for privilege in spec["privileges"]:
        resource = privilege["resource"]
        if resource == EVERY_COLLECTION:
            continue
        assert set(resource) == {"db", "collection"}, resource
        assert resource["db"] == "", f"{resource}: tenant databases cannot be named ahead"
        assert resource["collection"], resource
        assert resource["collection"] not in granted, f"{resource} twice"
        granted[resource["collection"]] = set(privilege["actions"])
    return granted


def _used_in_source(service: str) -> set[str]:
    """Every collection its sources name: a database subscripted with a constant
    (`db[NAME]`, `system_db()[NAME]`, `tenant_db(...)[NAME]`) or a tenant's collection asked
    for (`databases.collection(tenant_id, NAME)`, cart's storage), each NAME resolved in its
    module."""
    package = PACKAGES[service]
    assert package.__file__ is not None
    root = Path(package.__file__).parent
    found: set[str] = set()
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "get_collection(" not in text, f"{path}: name collections as db[NAME]"
        names = re.findall(r"(?:\bdb|_db\([^()]*\))\[([A-Z_][A-Z0-9_]*)\]", text)
        names += re.findall(r"\.collection\([^(),]+,\s*([A-Z_][A-Z0-9_]*)\)", text)
        if not names:
            continue
        module = importlib.import_module(
            ".".join((package.__name__, *path.relative_to(root).with_suffix("").parts))
        )
        for name in names:
            value = getattr(module, name)
            assert isinstance(value, str), f"{path}: {name}"
            found.add(value)
    return found


def test_one_user_and_role_per_service() -> None:
    users = _users()
    assert {spec["service"] for spec in users.values()} == set(CODE_COLLECTIONS)
    assert len({spec["role"] for spec in users.values()}) == len(users)
    assert set(users) == {"cart", "master_data"}


@pytest.mark.parametrize("service", sorted(CODE_COLLECTIONS))
def test_each_role_names_exactly_the_collections_its_code_uses(service: str) -> None:
    granted = _collections(_by_service()[service])
    assert set(granted) == CODE_COLLECTIONS[service]
    # What the sources subscript databases with, and index, is among them.
    assert _used_in_source(service) <= CODE_COLLECTIONS[service]
    indexed = {
        "cart": {spec.collection for spec in INDEXES},
        "master-data": {spec.collection for kind in ALL_KINDS for spec in kind.indexes()},
    }
    assert indexed[service] <= CODE_COLLECTIONS[service]


def test_the_sources_scan_finds_the_collections() -> None:
    """Negative control for the scan: it sees collections of both services."""
    assert {CARTS, TERMINALS} <= _used_in_source("cart")
    assert {TENANTS, MARKS} <= _used_in_source("master-data")


def test_the_services_collections_are_disjoint() -> None:
    cart_collections = set(_collections(_by_service()["cart"]))
    master_data_collections = set(_collections(_by_service()["master-data"]))
    assert not cart_collections & master_data_collections
    assert not CODE_COLLECTIONS["cart"] & CODE_COLLECTIONS["master-data"]


def test_nothing_is_written_beyond_a_services_own_collections() -> None:
    for service, spec in _by_service().items():
        for privilege in spec["privileges"]:
            resource, actions = privilege["resource"], set(privilege["actions"])
            assert actions <= WRITES | READS, f"{service}: {actions - WRITES - READS}"
            assert privilege["why"], f"{service}: {resource} without a reason"
            if resource == EVERY_COLLECTION:
                assert service == "master-data", f"{service} reaches every collection"
                assert actions == CHANGE_STREAM_ACTIONS, actions
            else:
                assert resource["collection"] in CODE_COLLECTIONS[service]
        assert {"cluster", "anyResource"}.isdisjoint(
            key for p in spec["privileges"] for key in p["resource"]
        )


def test_pre_images_only_where_the_feed_watches() -> None:
    granted = _collections(_by_service()["master-data"])
    assert {name for name, actions in granted.items() if "collMod" in actions} == set(WATCHED)
    assert not any("collMod" in actions for actions in _collections(_by_service()["cart"]).values())
