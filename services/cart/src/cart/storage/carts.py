"""Carts in MongoDB, one database per tenant. Every write is a compare-and-swap on `version`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession

from cart.domain.model import Cart
from pos_commons.errors import NotFoundError
from pos_commons.mongo import Document, IndexSpec, Mongo, ensure_indexes

CARTS = "carts"
TRANSACTIONS = "transactions"
COUNTERS = "receipt_counters"
IDEMPOTENCY = "idempotency_records"

INDEXES = (
    # Abandoned carts go away by themselves once expires_at has passed.
    IndexSpec(CARTS, [("expires_at", ASCENDING)], options={"expireAfterSeconds": 0}),
    IndexSpec(CARTS, [("store_code", ASCENDING), ("terminal_no", ASCENDING)]),
    IndexSpec(
        TRANSACTIONS,
        [("store_code", ASCENDING), ("terminal_no", ASCENDING), ("receipt_no", ASCENDING)],
        unique=True,
    ),
    IndexSpec(TRANSACTIONS, [("cart_id", ASCENDING)], unique=True),
    IndexSpec(IDEMPOTENCY, [("expires_at", ASCENDING)], options={"expireAfterSeconds": 0}),
)


class CartNotFoundError(NotFoundError):
    default_code = "CART_NOT_FOUND"


def cart_document(cart: Cart) -> Document:
    """The stored cart: amounts as Decimal128, and the idempotency keys the API does not show."""
    return {
        "_id": cart.cart_id,
        **cart.model_dump(mode="python", by_alias=False),
        "idempotency_keys": cart.idempotency_keys,
    }


class TenantDatabases:
    """Tenant databases of cart, with their indexes ensured once per process and tenant."""

    def __init__(self, mongo: Mongo) -> None:
        self.mongo = mongo
        self._ready: set[str] = set()
        self._collections: dict[tuple[str, str], Any] = {}

    async def collection(self, tenant_id: str, name: str) -> Any:
        """The tenant's collection `name`; 503 at once while the database is known to be
        down. Kept once made: pymongo builds a new collection object (names checked, options
        merged) on every `db[name]`, a few microseconds on every operation."""
        db = self.mongo.tenant_db(tenant_id)
        if tenant_id not in self._ready:
            await ensure_indexes(db, INDEXES)
            self._ready.add(tenant_id)
        collection = self._collections.get((tenant_id, name))
        if collection is None or collection.database is not db:
            collection = self._collections[(tenant_id, name)] = db[name]
        return collection


class CartStore:
    """Carts in the tenant's database. The cart cache and the retries around these writes are
    the unit of work's (cart/storage/unit_of_work.py)."""

    def __init__(self, databases: TenantDatabases) -> None:
        self._databases = databases

    async def insert(self, cart: Cart) -> None:
        """Raises DuplicateKeyError if a cart of this id exists (a retried creation)."""
        carts = await self._databases.collection(cart.tenant_id, CARTS)
        await carts.insert_one(cart_document(cart))

    async def get(self, tenant_id: str, store_code: str, terminal_no: int, cart_id: str) -> Cart:
        """The cart, if it belongs to this terminal and has not expired; else CART_NOT_FOUND
        (another terminal's cart is not found, not forbidden: its existence is not disclosed)."""
        carts = await self._databases.collection(tenant_id, CARTS)
        document = await carts.find_one(
            {"_id": cart_id, "store_code": store_code, "terminal_no": terminal_no}
        )
        if document is None or document["expires_at"] <= datetime.now(UTC):
            raise CartNotFoundError(
                f"No cart {cart_id!r} for this terminal.", details={"cartId": cart_id}
            )
        return Cart.model_validate(document)

    async def replace(
        self, cart: Cart, expected_version: int, session: AsyncClientSession | None = None
    ) -> bool:
        """Writes `cart` only if the stored version is still `expected_version` (inside the
        transaction of `session`, if given): whether it did."""
        carts = await self._databases.collection(cart.tenant_id, CARTS)
        result = await carts.replace_one(
            {"_id": cart.cart_id, "version": expected_version},
            cart_document(cart),
            session=session,
        )
        return bool(result.matched_count)
