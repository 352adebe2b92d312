"""Both services on a database that requires authentication, each as its own MongoDB user
with only its role of deploy/mongo/roles.json: a whole sale goes through, so the roles'
action lists are enough for what the services do.

SecantusDB with --auth: the users and roles are made without authentication first, then the
database restarts with --auth on the same data (as its --help says to provision). Its access
control checks a command's action but not the collection of a privilege's resource (a
privilege on `{db: "", collection: "carts"}` grants its actions on every collection), so it
cannot show that cart is kept out of master-data's collections: tests/unit/privilege/
test_mongo_roles.py checks the collection lists against the code instead, and this test
checks, after the sale, that every collection the services made in their databases is one
their role names. A user lacking one action of cart's role is refused, so the database does
enforce the actions the run needed.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from cart.storage import DATABASE_PREFIX as CART_PREFIX
from master_data.storage import DATABASE_PREFIX as MASTER_DATA_PREFIX
from pos_commons.transport import Transport
from pos_devstack.paths import REPO_ROOT
from pos_devstack.processes import ManagedProcess
from pos_devstack.seed import DemoCatalog, load_demo_catalog
from pos_devstack.stack import (
    CartProcess,
    MasterDataProcess,
    Tokens,
    start_cart,
    start_master_data,
    start_secantus,
)
from tests.pos_sale import assert_correct_sale, run_flow
from tests.support import data, register_terminal

ROLES_FILE = REPO_ROOT / "deploy/mongo/roles.json"
UNAUTHORIZED = 13
# A user with cart's role less one action it needs: the negative control.
WITHOUT_INSERT = "cart_without_insert"


def _users() -> dict[str, Any]:
    users: dict[str, Any] = json.loads(ROLES_FILE.read_text())["users"]
    return users


def _with_user(uri: str, user: str, password: str) -> str:
    return uri.replace("mongodb://", f"mongodb://{user}:{password}@", 1) + "&authSource=admin"


async def _provision(uri: str, passwords: dict[str, str]) -> None:
    """What deploy/compose/mongo-init's script does, from the same roles file, plus root and
    the negative control's user."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        admin = client.admin
        await admin.command(
            "createUser", "root", pwd=passwords["root"], roles=[{"role": "root", "db": "admin"}]
        )
        for user, spec in _users().items():
            privileges = [
                {"resource": p["resource"], "actions": p["actions"]} for p in spec["privileges"]
            ]
            await admin.command("createRole", spec["role"], privileges=privileges, roles=[])
            await admin.command(
                "createUser",
                user,
                pwd=passwords[user],
                roles=[{"role": spec["role"], "db": "admin"}],
            )
        crippled = [
            {"resource": p["resource"], "actions": [a for a in p["actions"] if a != "insert"]}
            for p in _users()["cart"]["privileges"]
        ]
        await admin.command("createRole", "posCartWithoutInsert", privileges=crippled, roles=[])
        await admin.command(
            "createUser",
            WITHOUT_INSERT,
            pwd=passwords[WITHOUT_INSERT],
            roles=[{"role": "posCartWithoutInsert", "db": "admin"}],
        )
    finally:
        await client.close()


@dataclass
class Secured:
    database: ManagedProcess
    uri: str
    """Without credentials: add a user's with `_with_user`."""
    passwords: dict[str, str]
    master: MasterDataProcess
    cart: CartProcess
    tokens: Tokens
    log_dir: Path


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    work = tmp_path_factory.mktemp("secured")
    storage = work / "db"
    passwords = {name: secrets.token_urlsafe(24) for name in ("root", *_users(), WITHOUT_INSERT)}
    open_db, open_uri = start_secantus(storage, log_dir=work)
    try:
        asyncio.run(_provision(open_uri, passwords))
    finally:
        open_db.stop()
    database, uri = start_secantus(storage, log_dir=work, extra_args=("--auth",))
    tokens = Tokens.generate()
    started: list[ManagedProcess] = [database]
    try:
        master = start_master_data(
            _with_user(uri, "master_data", passwords["master_data"]), tokens, log_dir=work
        )
        started.append(master.process)
        cart = start_cart(
            _with_user(uri, "cart", passwords["cart"]),
            tokens,
            master,
            transport=Transport.GRPC,
            log_dir=work,
        )
        started.append(cart.process)
        yield Secured(database, uri, passwords, master, cart, tokens, work)
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture(scope="module")
async def root(secured: Secured) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        _with_user(secured.uri, "root", secured.passwords["root"])
    )
    yield client
    await client.close()


async def test_the_database_requires_authentication(secured: Secured) -> None:
    anonymous: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(secured.uri)
    try:
        with pytest.raises(OperationFailure) as refused:
            await anonymous["cart_x"]["carts"].find_one({})
        assert refused.value.code == UNAUTHORIZED
    finally:
        await anonymous.close()


async def test_an_action_missing_from_a_role_is_refused(secured: Secured) -> None:
    """Negative control: the database checks actions, so the sale below used only those the
    roles grant."""
    uri = _with_user(secured.uri, WITHOUT_INSERT, secured.passwords[WITHOUT_INSERT])
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        tenant_db = client[f"{CART_PREFIX}_{uuid.uuid4().hex[:8]}"]
        assert await tenant_db["carts"].find_one({}) is None  # find: granted
        with pytest.raises(OperationFailure) as refused:
            await tenant_db["carts"].insert_one({"_id": "never"})
        assert refused.value.code == UNAUTHORIZED
        with pytest.raises(OperationFailure):
            await client.admin.command("listDatabases")  # granted to neither service
    finally:
        await client.close()


async def test_a_sale_goes_through_with_each_service_as_its_own_user(
    secured: Secured, root: AsyncMongoClient[dict[str, Any]]
) -> None:
    master, cart, tokens = secured.master, secured.cart, secured.tokens
    demo: DemoCatalog = await load_demo_catalog(master.url, tokens.admin)
    key = await register_terminal(cart.url, tokens.cart_admin, demo.tenant_id, "S001", 1)
    assert_correct_sale(await run_flow(cart, key), demo)

    admin = {"Authorization": f"Bearer {tokens.admin}"}
    base = f"/api/v1/tenants/{demo.tenant_id}"
    async with httpx.AsyncClient(base_url=master.url, headers=admin, timeout=10) as md:
        # Catalog changes (update, remove), which the feed's change stream carries to cart.
        data(await md.patch(f"{base}/items/ITEM0001", json={"unitPrice": "1.23"}))
        gone = await md.delete(f"{base}/stores/S002/prices/ITEM0011")
        assert gone.status_code == 204, gone.text
        data(await md.get("/ready"))
    cart_admin = {"Authorization": f"Bearer {tokens.cart_admin}"}
    async with httpx.AsyncClient(base_url=cart.url, timeout=10) as client:
        data(await client.get("/ready"))
        # A change with an Idempotency-Key (its first answer is kept), then a retry of it.
        terminal = {"X-API-Key": key, "Idempotency-Key": str(uuid.uuid4())}
        first = data(await client.post("/api/v1/carts", headers=terminal), 201)
        again = await client.post("/api/v1/carts", headers=terminal)
        assert data(again, 201)["cartId"] == first["cartId"]
        assert again.headers.get("idempotent-replayed") == "true"
        # The price change reaches cart (through the feed, or a lookup).
        added = await _scan_until(client, key, first["cartId"], "1.23")
        assert added == "1.23"
        # Terminal keys: rotate (update) and revoke (remove).
        listed = data(await client.get("/api/v1/terminals", headers=cart_admin))
        (terminal_id,) = [t["terminalId"] for t in listed if t["terminalNo"] == 1]
        data(await client.post(f"/api/v1/terminals/{terminal_id}/rotate-key", headers=cart_admin))
        revoked = await client.delete(f"/api/v1/terminals/{terminal_id}", headers=cart_admin)
        assert revoked.status_code == 204, revoked.text
        health = data(await client.get("/health"))
    assert health["catalogFeed"]["live"] == 1, health["catalogFeed"]

    for process in (master.process, cart.process):
        log = process.log_path.read_text() if process.log_path else ""
        assert not re.search(r"not authorized|Unauthorized", log), process.name

    # Every collection the services made lies in their own databases and is one their role
    # names (SecantusDB does not check the collection part of a privilege: this does).
    granted = {
        spec["service"]: {p["resource"]["collection"] for p in spec["privileges"]}
        for spec in _users().values()
    }
    prefixes = {CART_PREFIX: "cart", MASTER_DATA_PREFIX: "master-data"}
    made: dict[str, set[str]] = {"cart": set(), "master-data": set()}
    for name in await root.list_database_names():
        owner = prefixes.get(name.split("_", 1)[0])
        if owner is None:
            assert name in ("admin", "config", "local"), name
            continue
        made[owner] |= set(await root[name].list_collection_names())
    for service, collections in made.items():
        own = {c for c in collections if not c.startswith("system.")}
        assert own <= granted[service], f"{service} made {own - granted[service]}"
    assert {"carts", "transactions", "receipt_counters", "idempotency_records"} <= made["cart"]
    assert {"items", "store_prices", "feed_marks", "tenants"} <= made["master-data"]


async def _scan_until(client: httpx.AsyncClient, key: str, cart_id: str, price: str) -> str:
    """Adds ITEM0001 until its line shows `price` (the feed is asynchronous), for 5 s."""
    headers = {"X-API-Key": key}
    seen = ""
    for _ in range(50):
        answer = data(
            await client.post(
                f"/api/v1/carts/{cart_id}/lineItems",
                json=[{"itemCode": "ITEM0001"}],
                headers=headers,
            )
        )
        seen = str(answer["lines"][-1]["unitPrice"])
        if seen == price:
            break
        await asyncio.sleep(0.1)
    return seen
