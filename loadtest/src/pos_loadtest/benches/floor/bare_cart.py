"""The floor of cart: a bare cart that does cart's database work for the locust scenario and
nothing else.

    python -m pos_loadtest.benches.floor.bare_cart

Settings from the environment, named as cart's: MONGODB_URI, MASTER_DATA_URL, SERVICE_TOKEN,
CART_HTTP_PORT (8003), BIND_HOST (127.0.0.1). `start_bare_cart` starts it as devstack starts
cart. The runner that puts cart and it under the same load is runner.py (`pos-bench-floor`).

Built as a performance engineer would build the service with nothing but FastAPI, uvicorn
(uvloop, httptools), pymongo's AsyncMongoClient and orjson (aiohttp for master-data): a cart
is a plain dict shaped as its stored document (sale.py), the same object in the process, in
MongoDB and (camelCased) in the answer. It serves what the locustfile's
`Terminal.sale` calls (`POST /api/v1/carts`, `.../{id}/lineItems`, `.../subtotal`,
`.../payments`, `.../bill`, `.../cancel`) and `/health`, with cart's behaviour on each:

- the terminal's `X-API-Key`: its SHA-256 looked up in `cart__system.terminals`, a verified
  key trusted and a refused one refused for 30 s in the process (cart's
  TERMINAL_CACHE_TTL_SECONDS); the terminals' two unique indexes ensured at start-up;
- the tenant's database `cart_<tenant>`, its five indexes ensured on first use;
- carts kept in the process as cart's cart cache keeps them (the open carts this process
  wrote last, up to 2,000), so a change is one versioned write, `replace_one({_id, version})`,
  with the same filter and document as cart's; a failed swap reads the cart
  (`find_one({_id, store_code, terminal_no})`) and applies the change again;
- bill and cancel in one MongoDB transaction (`with_transaction`, majority read and write
  concerns, a 10 s bound): the terminal's receipt counter (`findAndModify`, upsert), the
  versioned write of the cart, the transaction record;
- the client options cart's `Mongo` sets (timeoutMS 5 s, majority concerns with journal,
  heartbeat 2 s...) and cart's Decimal128 codec (`pos_commons.mongo.CODEC_OPTIONS`: bson's
  own conversion, bit for bit, memoised; the one piece of the project's code it runs),
  so every command and stored document is the same;
- items (per store) and payment methods asked of master-data over HTTP on first use and
  kept in a dict forever: cart keeps them in its item cache, fed by the catalog feed, so a
  warmed cart makes no master-data call either;
- cart's arithmetic (cart/domain/pricing.py, operations.py), the same state machine for
  these actions, the same answers (`{"success", "data", "requestId"}`, camelCase, decimal
  strings) and error codes for the refusals these routes can meet.

tests/loadtest/test_floor_parity.py checks, for a scripted sale and a cancelled one, that it
sends the same commands, stores the same documents and answers the same bodies as cart.

Left out, on purpose (what the floor does not pay for): line and cart discounts, line
changes, resume-item-entry, GET of a cart or a record (the scenario calls none); an
Idempotency-Key (cart claims and keeps keyed answers in `idempotency_records`; the scenario
sends none: a keyed call is refused with 501); the catalog feed (items and payment methods
never change while it runs); the per-cart lock (a terminal has one call in flight; the
versioned write still catches a race, retried at once rather than after a jittered pause);
the cart cache's memory bound and its mark of carts another process writes; validation by
pydantic (bodies are checked by hand, for what these routes read); metrics, tracing,
Server-Timing, access logs, admission and request budgets, body-size limits, the mapping of
database and master-data failures to 503/504 (they answer 500), readiness, drain on SIGTERM,
the admin API (terminals are registered through cart).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
import pymongo
import uvicorn
from fastapi import FastAPI, Request, Response
from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument, WriteConcern
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.read_concern import ReadConcern

from pos_commons.mongo import CODEC_OPTIONS
from pos_commons.transport import Transport
from pos_devstack.processes import LOOPBACK
from pos_loadtest.benches.floor.sale import (
    ADD_ITEMS,
    ADD_PAYMENT,
    BILLING,
    CANCELLED,
    CANCELLING,
    CART_TTL,
    COMPLETED,
    SUBTOTAL,
    TRANSITIONS,
    Closing,
    Document,
    RefusedError,
    add_items,
    add_payment,
    advance,
    invalid,
    item_requests,
    new_cart,
    now_ms,
    payment_request,
    public,
    subtotal,
    transaction_record,
)

if TYPE_CHECKING:  # the server itself needs none of devstack's stack
    from pos_devstack.stack import CartProcess, MasterDataProcess, Tokens

TERMINAL_TRUST_SECONDS = 30.0
REFUSED_KEYS_KEPT = 10_000
CARTS_KEPT = 2_000
TRANSACTION_SECONDS = 10.0
WRITE_ATTEMPTS = 50
"""Versioned writes of one change before it answers 409 CART_CONFLICT."""

INDEXES: tuple[tuple[str, list[tuple[str, int]], bool, dict[str, Any]], ...] = (
    ("carts", [("expires_at", ASCENDING)], False, {"expireAfterSeconds": 0}),
    ("carts", [("store_code", ASCENDING), ("terminal_no", ASCENDING)], False, {}),
    (
        "transactions",
        [("store_code", ASCENDING), ("terminal_no", ASCENDING), ("receipt_no", ASCENDING)],
        True,
        {},
    ),
    ("transactions", [("cart_id", ASCENDING)], True, {}),
    ("idempotency_records", [("expires_at", ASCENDING)], False, {"expireAfterSeconds": 0}),
)
"""A tenant database's indexes, in cart's order (cart/storage/carts.py)."""
TERMINAL_INDEXES = (
    [("key_hash", ASCENDING)],
    [("tenant_id", ASCENDING), ("store_code", ASCENDING), ("terminal_no", ASCENDING)],
)

_CART_ID = re.compile(r"[0-9a-f]{32}")

Apply = Callable[[Document], Document]
"""A change made ready (its master data fetched): the cart in, the changed cart out."""
Preparation = Callable[[Document], Awaitable[Apply]]
"""Makes a change ready for the calling terminal (reads the body, asks master-data)."""


class _VersionConflictError(Exception):
    """The cart's version moved since it was read (a lost compare-and-swap)."""


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str
    master_data_url: str
    service_token: str
    port: int
    host: str

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/"),
            os.environ.get("MASTER_DATA_URL", "http://127.0.0.1:8002").rstrip("/"),
            os.environ.get("SERVICE_TOKEN", ""),
            int(os.environ.get("CART_HTTP_PORT", "8003")),
            os.environ.get("BIND_HOST", LOOPBACK),
        )


# -- the answers: cart's envelope --------------------------------------------------


def _other(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _json(body: Document, status: int) -> Response:
    return Response(
        orjson.dumps(body, default=_other, option=orjson.OPT_UTC_Z),
        status,
        media_type="application/json",
    )


def answer_cart(cart: Document, status: int = 200) -> Response:
    body = {"success": True, "data": public(cart), "requestId": secrets.token_hex(16)}
    return _json(body, status)


def answer_refusal(refused: RefusedError) -> Response:
    error = {"code": refused.code, "message": refused.message, "details": refused.details}
    return _json(
        {"success": False, "error": error, "requestId": secrets.token_hex(16)}, refused.status
    )


# -- the service --------------------------------------------------------------------------------


def _item(data: Document) -> Document:
    """An item of master-data's itemDetails answer, as a line needs it."""
    rule = data["taxRule"]
    return {
        "item_code": data["itemCode"],
        "description": data["description"],
        "short_description": data["shortDescription"],
        "category_code": data["categoryCode"],
        "effective_price": Decimal(data["effectivePrice"]),
        "is_discount_restricted": data["isDiscountRestricted"],
        "is_deleted": data["isDeleted"],
        "tax_rule": {
            "tax_code": rule["taxCode"],
            "name": rule["name"],
            "tax_type": rule["taxType"],
            "rate": Decimal(rule["rate"]),
            "rounding_digits": rule["roundingDigits"],
            "rounding_method": rule["roundingMethod"],
        },
    }


class BareCart:
    """Everything the process keeps: the MongoDB client, the caches, master-data's session."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # cart's Mongo client options (pos_commons/mongo.py with cart's default settings).
        self.client: AsyncMongoClient[Document] = AsyncMongoClient(
            settings.mongodb_uri,
            timeoutMS=5_000,
            serverSelectionTimeoutMS=2_000,
            connectTimeoutMS=10_000,
            heartbeatFrequencyMS=2_000,
            maxIdleTimeMS=60_000,
            appname="bare-cart",
            tz_aware=True,
            tzinfo=UTC,
            type_registry=CODEC_OPTIONS.type_registry,
            w="majority",
            journal=True,
            readConcernLevel="majority",
        )
        system = self.client.get_database("cart__system", codec_options=CODEC_OPTIONS)
        self.terminals: AsyncCollection[Document] = system["terminals"]
        self._tenants: dict[str, tuple[AsyncCollection[Document], ...]] = {}
        self._trusted: dict[str, tuple[float, Document]] = {}
        self._refused: dict[str, float] = {}
        self._carts: OrderedDict[str, Document] = OrderedDict()
        self._items: dict[tuple[str, str, str], Document] = {}
        self._methods: dict[tuple[str, str], Document] = {}
        self._http: aiohttp.ClientSession | None = None
        self._read_concern = ReadConcern("majority")
        self._write_concern = WriteConcern(w="majority", j=True)

    async def start(self) -> None:
        for keys in TERMINAL_INDEXES:
            await self.terminals.create_index(keys, unique=True)
        self._http = aiohttp.ClientSession(
            headers={"authorization": f"Bearer {self.settings.service_token}"}
        )

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        await self.client.close()

    # -- the terminal ------------------------------------------------------------------------

    async def terminal(self, api_key: str | None) -> Document:
        if not api_key:
            raise RefusedError(
                401, "API_KEY_REQUIRED", "A terminal API key is required (X-API-Key header)."
            )
        hashed = hashlib.sha256(api_key.encode()).hexdigest()
        now = time.monotonic()
        trusted = self._trusted.get(hashed)
        if trusted is not None and trusted[0] > now:
            return trusted[1]
        if self._refused.get(hashed, 0.0) > now:
            raise RefusedError(401, "INVALID_API_KEY", "The API key is not valid.")
        terminal = await self.terminals.find_one({"key_hash": hashed})
        if terminal is None:
            if len(self._refused) >= REFUSED_KEYS_KEPT:
                self._refused.clear()
            self._refused[hashed] = now + TERMINAL_TRUST_SECONDS
            raise RefusedError(401, "INVALID_API_KEY", "The API key is not valid.")
        self._trusted[hashed] = (now + TERMINAL_TRUST_SECONDS, terminal)
        return terminal

    # -- the tenant's collections ------------------------------------------------------------

    async def _collections(self, tenant_id: str) -> tuple[AsyncCollection[Document], ...]:
        """(carts, transactions, receipt counters), the indexes ensured on first use."""
        found = self._tenants.get(tenant_id)
        if found is None:
            db = self.client.get_database(f"cart_{tenant_id}", codec_options=CODEC_OPTIONS)
            for collection, keys, unique, options in INDEXES:
                await db[collection].create_index(keys, unique=unique, **options)
            found = self._tenants[tenant_id] = (
                db["carts"],
                db["transactions"],
                db["receipt_counters"],
            )
        return found

    # -- carts: the cache, the read, the versioned write -------------------------------------

    def _cached(self, terminal: Document, cart_id: str, action: str) -> Document | None:
        cart = self._carts.get(cart_id)
        if (
            cart is None
            or cart["tenant_id"] != terminal["tenant_id"]
            or cart["store_code"] != terminal["store_code"]
            or cart["terminal_no"] != terminal["terminal_no"]
            or cart["expires_at"] <= datetime.now(UTC)
            or (cart["state"], action) not in TRANSITIONS
        ):
            return None
        return cart

    def _written(self, cart: Document) -> None:
        cart_id = cart["_id"]
        if cart["state"] in (COMPLETED, CANCELLED):
            self._carts.pop(cart_id, None)
            return
        self._carts[cart_id] = cart
        self._carts.move_to_end(cart_id)
        while len(self._carts) > CARTS_KEPT:
            self._carts.popitem(last=False)

    async def _load(self, terminal: Document, cart_id: str) -> Document:
        carts, _, _ = await self._collections(terminal["tenant_id"])
        cart = await carts.find_one(
            {
                "_id": cart_id,
                "store_code": terminal["store_code"],
                "terminal_no": terminal["terminal_no"],
            }
        )
        if cart is None or cart["expires_at"] <= datetime.now(UTC):
            raise RefusedError(
                404,
                "CART_NOT_FOUND",
                f"No cart {cart_id!r} for this terminal.",
                {"cartId": cart_id},
            )
        return cart

    @staticmethod
    def _stamped(changed: Document, read: Document) -> Document:
        now = now_ms()
        return {
            **changed,
            "version": read["version"] + 1,
            "updated_at": now,
            "expires_at": now + CART_TTL,
        }

    async def _replace(
        self, cart: Document, expected: int, session: AsyncClientSession | None = None
    ) -> bool:
        carts, _, _ = await self._collections(cart["tenant_id"])
        try:
            result = await carts.replace_one(
                {"_id": cart["_id"], "version": expected}, cart, session=session
            )
        except BaseException:
            self._carts.pop(cart["_id"], None)
            raise
        if not result.matched_count or session is not None:
            self._carts.pop(cart["_id"], None)
        else:
            self._written(cart)
        return bool(result.matched_count)

    async def create(self, terminal: Document) -> Document:
        cart = new_cart(uuid.uuid4().hex, terminal, now_ms())
        carts, _, _ = await self._collections(terminal["tenant_id"])
        await carts.insert_one(cart)
        self._written(cart)
        return cart

    async def change(
        self,
        terminal: Document,
        cart_id: str,
        action: str,
        prepare: Callable[[], Awaitable[Apply]],
    ) -> Document:
        """The cart after the change `prepare()` makes ready: from the cached cart when this
        process wrote it last, else from a read; a lost swap (or a refusal of the cached cart)
        reads the cart and applies the change again."""
        cart = self._cached(terminal, cart_id, action)
        fresh = cart is None
        if cart is None:
            cart = await self._load(terminal, cart_id)
            advance(cart, action)
        apply = await prepare()
        if not fresh:
            try:
                updated: Document | None = self._stamped(apply(cart), cart)
            except RefusedError:
                updated = None
            if updated is not None and await self._replace(updated, cart["version"]):
                return updated
            cart = await self._load(terminal, cart_id)
        for _ in range(WRITE_ATTEMPTS):
            updated = self._stamped(apply(cart), cart)
            if await self._replace(updated, cart["version"]):
                return updated
            cart = await self._load(terminal, cart_id)
        raise _conflict()

    async def close(self, terminal: Document, cart_id: str, closing: Closing) -> Document:
        """Bills or cancels in one transaction; a cart already closed this way answers as it
        is (a retry after an unknown outcome gets its receipt)."""
        cached = self._cached(terminal, cart_id, closing.action)
        if cached is not None:
            try:
                closing.check(cached)
                return await self._close_once(cached, closing)
            except (RefusedError, _VersionConflictError):
                pass  # decided again on a read
        for _ in range(WRITE_ATTEMPTS):
            cart = await self._load(terminal, cart_id)
            if cart["state"] == closing.done:
                return cart
            closing.check(cart)
            try:
                return await self._close_once(cart, closing)
            except _VersionConflictError:
                continue
        raise _conflict()

    async def _close_once(self, cart: Document, closing: Closing) -> Document:
        _, transactions, counters = await self._collections(cart["tenant_id"])

        async def write(session: AsyncClientSession) -> Document:
            counter = await counters.find_one_and_update(
                {"_id": f"{cart['store_code']}/{cart['terminal_no']}"},
                {"$inc": {"last_receipt_no": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            assert counter is not None, "upserted"
            closed = closing.close(cart, int(counter["last_receipt_no"]), uuid.uuid4().hex)
            closed = self._stamped(closed, cart)
            if not await self._replace(closed, cart["version"], session):
                raise _VersionConflictError
            await transactions.insert_one(
                transaction_record(closed, closing.record_type), session=session
            )
            return closed

        async with self.client.start_session() as session:
            with pymongo.timeout(TRANSACTION_SECONDS):
                closed: Document = await session.with_transaction(
                    write, read_concern=self._read_concern, write_concern=self._write_concern
                )
        return closed

    # -- master data ---------------------------------------------------------------------------

    async def _get(self, path: str) -> tuple[int, Any]:
        assert self._http is not None, "started"
        async with self._http.get(self.settings.master_data_url + path) as response:
            body = await response.read()
        if response.status not in (200, 404):
            raise RefusedError(
                503, "MASTER_DATA_UNAVAILABLE", f"master-data answered {response.status}"
            )
        return response.status, orjson.loads(body)

    async def items(self, terminal: Document, codes: list[str]) -> dict[str, Document]:
        tenant, store = terminal["tenant_id"], terminal["store_code"]
        found = {}
        wanted = []
        for code in codes:
            item = self._items.get((tenant, store, code))
            if item is None:
                wanted.append(code)
            else:
                found[code] = item
        if wanted:
            path = f"/api/v1/tenants/{tenant}/stores/{store}/itemDetails?codes={','.join(wanted)}"
            status, body = await self._get(path)
            if status != 200:
                raise RefusedError(404, body["error"]["code"], body["error"]["message"])
            for data in body["data"]["items"]:
                item = self._items[(tenant, store, data["itemCode"])] = _item(data)
                found[data["itemCode"]] = item
        return found

    async def payment_method(self, terminal: Document, code: str) -> Document:
        key = (terminal["tenant_id"], code)
        method = self._methods.get(key)
        if method is None:
            status, body = await self._get(f"/api/v1/tenants/{key[0]}/paymentMethods/{code}")
            if status != 200:
                raise RefusedError(
                    404,
                    "PAYMENT_METHOD_NOT_FOUND",
                    f"No payment method {code}.",
                    {"paymentCode": code},
                )
            data = body["data"]
            method = self._methods[key] = {
                "payment_code": data["paymentCode"],
                "name": data["name"],
                "can_give_change": data["canGiveChange"],
                "can_exceed_balance": data["canExceedBalance"],
                "is_active": data["isActive"],
            }
        return method


def _conflict() -> RefusedError:
    return RefusedError(409, "CART_CONFLICT", "The cart was being changed elsewhere; try again.")


# -- the app ------------------------------------------------------------------------------------


def create_app(settings: Settings) -> FastAPI:
    service = BareCart(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    async def answered(
        request: Request, status: int, change: Callable[[Document], Awaitable[Document]]
    ) -> Response:
        """The terminal's cart after `change(terminal)`, or the refusal."""
        try:
            if "idempotency-key" in request.headers:
                raise RefusedError(
                    501, "NOT_IN_THE_FLOOR", "The bare cart takes no Idempotency-Key."
                )
            terminal = await service.terminal(request.headers.get("x-api-key"))
            return answer_cart(await change(terminal), status)
        except RefusedError as refused:
            return answer_refusal(refused)

    def cart_id(request: Request) -> str:
        value: str = request.path_params["cart_id"]
        if not _CART_ID.fullmatch(value):
            raise invalid("A cart id is 32 hexadecimal digits.")
        return value

    @app.get("/health")
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.post("/api/v1/carts")
    async def create(request: Request) -> Response:
        return await answered(request, 201, service.create)

    async def changing(request: Request, action: str, prepare: Preparation) -> Response:
        async def change(terminal: Document) -> Document:
            ready = partial(prepare, terminal)
            return await service.change(terminal, cart_id(request), action, ready)

        return await answered(request, 200, change)

    @app.post("/api/v1/carts/{cart_id}/lineItems")
    async def add_line_items(request: Request) -> Response:
        async def prepare(terminal: Document) -> Apply:
            requests = item_requests(await request.body())
            codes = list(dict.fromkeys(code for code, _, _ in requests))
            items = await service.items(terminal, codes)
            return lambda cart: add_items(cart, requests, items)

        return await changing(request, ADD_ITEMS, prepare)

    @app.post("/api/v1/carts/{cart_id}/subtotal")
    async def go_to_payment(request: Request) -> Response:
        async def prepare(terminal: Document) -> Apply:
            return subtotal

        return await changing(request, SUBTOTAL, prepare)

    @app.post("/api/v1/carts/{cart_id}/payments")
    async def take_payment(request: Request) -> Response:
        async def prepare(terminal: Document) -> Apply:
            code, amount = payment_request(await request.body())
            method = await service.payment_method(terminal, code)
            return lambda cart: add_payment(cart, method, amount)

        return await changing(request, ADD_PAYMENT, prepare)

    async def closing(request: Request, way: Closing) -> Response:
        async def change(terminal: Document) -> Document:
            return await service.close(terminal, cart_id(request), way)

        return await answered(request, 200, change)

    @app.post("/api/v1/carts/{cart_id}/bill")
    async def complete(request: Request) -> Response:
        return await closing(request, BILLING)

    @app.post("/api/v1/carts/{cart_id}/cancel")
    async def void(request: Request) -> Response:
        return await closing(request, CANCELLING)

    return app


MODULE = "pos_loadtest.benches.floor.bare_cart"


def start_bare_cart(
    mongodb_uri: str,
    tokens: Tokens,
    master_data: MasterDataProcess,
    *,
    http_port: int | None = None,
    log_dir: Path | None = None,
    name: str = "bare-cart",
) -> CartProcess:
    """The bare cart, started, logged, waited for and stopped as devstack does cart: it reads
    cart's settings (those over HTTP; the others it ignores)."""
    from pos_devstack.stack import start_cart  # the server process needs none of it

    return start_cart(
        mongodb_uri, tokens, master_data, transport=Transport.HTTP, http_port=http_port,
        log_dir=log_dir, name=name, module=MODULE,
    )  # fmt: skip


def main() -> int:
    settings = Settings.from_environment()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=75,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
