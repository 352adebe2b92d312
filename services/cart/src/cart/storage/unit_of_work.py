"""The unit of work of a cart change: everything between "change this cart" and "it is
written", so that the service layer only says what the change is.

Two layers keep concurrent changes from being lost. Inside one process, a per-cart lock
queues them (a bounded line, see locks.py). Across processes (several cart replicas), the
versioned write (a compare-and-swap on the cart's version) catches the loser, which reloads,
reapplies its change to the fresh cart and tries again, until its request's deadline (see
contention.py, tenacity's retry and jittered pauses). A change starts from the cart cache
(cart_cache.py) when this process has the cart cached, and only ever decides a refusal on a
fresh read.

Billing and cancelling also take a receipt number and write the transaction record; those
three writes are one MongoDB transaction, committed with the driver's `with_transaction`
(which retries transient errors and a commit whose outcome is unknown), so receipt numbers
have no gaps and a sale that committed is never answered as an error.

Each write stamps the cart (version, times) and writes the change's Idempotency-Key into it
(cart/domain/idempotency_keys.py); each read checks that the key was not applied already.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import ClassVar, Protocol

import pymongo
from prometheus_client import CollectorRegistry, Counter
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from cart.domain.idempotency_keys import applied, check_not_applied, with_key
from cart.domain.model import Cart, now_ms
from cart.domain.states import TRANSITIONS, Action, CartState, next_state
from cart.storage.cart_cache import CartCache
from cart.storage.carts import CartStore
from cart.storage.contention import VersionConflictError, retried
from cart.storage.locks import KeyedLocks
from cart.storage.stranded_sessions import StrandedSessions
from cart.storage.terminals import Terminal
from cart.storage.transactions import TransactionRecord, TransactionStore, TransactionType
from pos_commons import deadlines
from pos_commons.errors import AppError
from pos_commons.mongo import Mongo

MIN_TRANSACTION_SECONDS = 0.001

Apply = Callable[[Cart], Cart]
"""A change's domain action: the cart in, the changed cart out (or a refusal, raised)."""


class Closing(Protocol):
    """What closes a cart (bill, cancel): the close/bill path of `CartUnitOfWork.close`."""

    action: ClassVar[Action]
    transaction_type: ClassVar[TransactionType]
    done: ClassVar[CartState]
    """The state the close leaves the cart in: a cart already there answers as it is to a
    call without a key (a retry after an unknown outcome gets its receipt)."""

    def check(self, cart: Cart) -> None:
        """Refuses a cart that cannot be closed this way (before a receipt number is taken)."""

    def close(self, cart: Cart, receipt_no: int, transaction_id: str) -> Cart:
        """The closed cart."""


class CartUnitOfWork:
    """The per-cart lock, the cart cache, the versioned write with its conflict retry, and
    the MongoDB transaction of a close: one instance per process."""

    def __init__(
        self,
        mongo: Mongo,
        carts: CartStore,
        cache: CartCache,
        transactions: TransactionStore,
        stranded: StrandedSessions,
        registry: CollectorRegistry,
        cart_ttl_seconds: int,
        transaction_timeout_seconds: float,
        max_waiters_per_cart: int,
    ) -> None:
        self._conflicts = Counter(
            "cart_write_conflicts",
            "Cart writes that found the cart changed by another process, and were retried.",
            registry=registry,
        )
        self._mongo = mongo
        self._carts = carts
        self._cache = cache
        self._transactions = transactions
        self._stranded = stranded
        self._ttl = timedelta(seconds=cart_ttl_seconds)
        self._transaction_timeout = transaction_timeout_seconds
        self._locks = KeyedLocks(max_waiters_per_cart)

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    async def insert(self, cart: Cart) -> bool:
        """Writes a new cart: False if a cart of its id exists already (a retried creation)."""
        try:
            await self._carts.insert(cart)
        except DuplicateKeyError:
            return False
        self._cache.written(cart)
        return True

    async def load(self, terminal: Terminal, cart_id: str) -> Cart:
        """The cart as the database holds it (never the cached cart)."""
        return await self._carts.get(
            terminal.tenant_id, terminal.store_code, terminal.terminal_no, cart_id
        )

    async def change(
        self,
        terminal: Terminal,
        cart_id: str,
        action: Action,
        key: str | None,
        prepare: Callable[[], Awaitable[Apply]],
    ) -> Cart:
        """The cart changed by the action `prepare()` makes ready (asking master-data, say),
        under the cart's lock, once the cart allows `action` and has not applied `key`; the
        action is applied again to a fresh cart after a lost race."""
        async with self._read(terminal, cart_id, action, key) as (cart, fresh):
            apply = await prepare()
            return await self._commit(terminal, cart, fresh, apply, key)

    async def close(
        self, terminal: Terminal, cart_id: str, closing: Closing, key: str | None
    ) -> Cart:
        """Bills or cancels: receipt number, cart and transaction record in one transaction.

        Starts from the cached cart when it has a usable one (a stale cached cart fails the
        versioned write, which rolls the transaction back: then it goes on from a fresh read
        at once). On a version conflict with a fresh read (another replica changed the cart)
        it reloads and decides again, until the request's deadline (contention.retried); a
        cart already closed the same way answers as it is when no key came with the request
        (a retry), else the state machine refuses (409).
        """

        async def attempt(again: bool) -> Cart:
            cart = await self._fresh(terminal, cart_id, key)
            if key is None and cart.state is closing.done:
                return cart
            closing.check(cart)
            try:
                return await self._close_once(cart, closing, key)
            except VersionConflictError:
                self._conflicts.inc()
                raise

        async with self._locks.hold(cart_id):
            cached = self._usable_cached(terminal, cart_id, closing.action, key)
            if cached is not None:
                try:
                    closing.check(cached)
                    return await self._close_once(cached, closing, key)
                except (AppError, VersionConflictError):
                    pass  # the cached cart was stale: decided again on a fresh read
            return await retried(attempt)

    # -- reading -----------------------------------------------------------------------------

    @asynccontextmanager
    async def _read(
        self, terminal: Terminal, cart_id: str, action: Action, key: str | None
    ) -> AsyncIterator[tuple[Cart, bool]]:
        """The cart under its lock, and whether it was read from the database just now, after
        checking that `key` (if any) was not applied already and that `action` is allowed in
        its state (a cart that cannot take the action is refused before anything else
        happens: no master-data call).

        The cart is the cached cart when there is one that allows the action; a refusal is
        only ever decided on a fresh read.
        """
        async with self._locks.hold(cart_id):
            cached = self._usable_cached(terminal, cart_id, action, key)
            if cached is not None:
                try:
                    yield cached, False
                except AppError as refused:
                    if refused.status_code >= 500:
                        raise
                    # Refused while working from the cached cart (master-data knows no such
                    # payment method, say): the refusal stands only if the cart still takes
                    # the action.
                    await self._allowing(terminal, cart_id, action, key)
                    raise
                return
            yield await self._allowing(terminal, cart_id, action, key), True

    async def _allowing(
        self, terminal: Terminal, cart_id: str, action: Action, key: str | None
    ) -> Cart:
        """The cart, read now, if `key` was not applied to it and it allows `action`."""
        cart = await self._fresh(terminal, cart_id, key)
        next_state(cart.state, action)
        return cart

    async def _fresh(self, terminal: Terminal, cart_id: str, key: str | None) -> Cart:
        cart = await self.load(terminal, cart_id)
        check_not_applied(cart, key)
        return cart

    def _usable_cached(
        self, terminal: Terminal, cart_id: str, action: Action, key: str | None
    ) -> Cart | None:
        """The cached cart, if there is one that allows `action` and has not applied `key`:
        anything else is decided on a fresh read."""
        cached = self._cache.get(
            terminal.tenant_id, terminal.store_code, terminal.terminal_no, cart_id
        )
        if cached is None or (cached.state, action) not in TRANSITIONS or applied(cached, key):
            return None
        return cached

    # -- writing -----------------------------------------------------------------------------

    def _stamped(self, changed: Cart, read: Cart, key: str | None) -> Cart:
        now = now_ms()
        stamped = changed.model_copy(
            update={"version": read.version + 1, "updated_at": now, "expires_at": now + self._ttl}
        )
        return with_key(stamped, key)

    async def _replace(
        self, cart: Cart, expected_version: int, session: AsyncClientSession | None = None
    ) -> bool:
        """The versioned write, and the cart cache kept to it: inside a transaction
        (`session`) the write only counts once committed, so the cached cart is dropped
        rather than kept."""
        try:
            written = await self._carts.replace(cart, expected_version, session)
        except BaseException:
            self._cache.forget(cart.cart_id)  # written or not: unknown
            raise
        if not written:
            self._cache.stale(cart.cart_id)
        elif session is None:
            self._cache.written(cart)
        else:
            self._cache.forget(cart.cart_id)
        return written

    async def _commit(
        self, terminal: Terminal, cart: Cart, fresh: bool, apply: Apply, key: str | None
    ) -> Cart:
        """Applies `apply` and swaps the result in; on a version conflict, reloads and
        applies it again to the fresh cart (its rules are checked again too), until the
        request's deadline (contention.retried).

        Started from the cached cart, a refusal or a failed swap means only that the cached
        cart was stale: the change is decided again on a fresh read, at once.
        """
        if not fresh:
            try:
                updated: Cart | None = self._stamped(apply(cart), cart, key)
            except AppError:
                updated = None
            if updated is not None and await self._replace(updated, cart.version):
                return updated
            cart = await self._fresh(terminal, cart.cart_id, key)
        first = cart

        async def attempt(again: bool) -> Cart:
            current = await self._fresh(terminal, first.cart_id, key) if again else first
            updated = self._stamped(apply(current), current, key)
            if not await self._replace(updated, current.version):
                self._conflicts.inc()
                raise VersionConflictError
            return updated

        return await retried(attempt)

    async def _close_once(self, cart: Cart, closing: Closing, key: str | None) -> Cart:
        async def write(session: AsyncClientSession) -> Cart:
            receipt_no = await self._transactions.next_receipt_no(
                cart.tenant_id, cart.store_code, cart.terminal_no, session
            )
            closed = self._stamped(closing.close(cart, receipt_no, uuid.uuid4().hex), cart, key)
            if not await self._replace(closed, cart.version, session):
                raise VersionConflictError
            await self._transactions.insert(
                TransactionRecord.of(closed, closing.transaction_type), session
            )
            return closed

        concerns = self._mongo.concerns
        async with self._mongo.client.start_session() as session:
            # Bounds with_transaction's own retries (120 s by default) by our budget, and by
            # what is left of the request's: a bill that waited for its cart must not outlast
            # the caller (a positive floor: a timeout of 0 would mean none).
            seconds = min(self._transaction_timeout, deadlines.remaining())
            try:
                with pymongo.timeout(max(seconds, MIN_TRANSACTION_SECONDS)):
                    closed: Cart = await session.with_transaction(
                        write, read_concern=concerns.read, write_concern=concerns.write
                    )
            except PyMongoError as exc:
                if exc.timeout or isinstance(exc, ConnectionFailure):
                    # Its commands may still reach the database: abort it there.
                    self._stranded.add(session.session_id)
                raise
        return closed
