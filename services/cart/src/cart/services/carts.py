"""What each cart call does: load under a per-cart lock, check the state, ask master-data,
apply the pure domain operation, and compare-and-swap the result into MongoDB.

Two layers keep concurrent changes from being lost. Inside one process, a per-cart lock
queues them (a bounded line, see locks.py). Across processes (several cart replicas), the
version compare-and-swap catches the loser, which reloads, reapplies its change to the fresh
cart and tries again, until its request's deadline (see contention.py). Billing and
cancelling also take a receipt number and write the transaction record; those three writes
are one MongoDB transaction, committed with the driver's `with_transaction` (which retries
transient errors and a commit whose outcome is unknown), so receipt numbers have no gaps and
a sale that committed is never answered as an error.

A change made with an Idempotency-Key writes the key into the cart with it (the same
compare-and-swap): a retry that finds its key in the cart was applied already
(`AlreadyAppliedError`), however it got there. Billing a cart that is already billed (or
cancelling a cancelled one) without a key answers the cart as it is: a retry after an
unknown outcome gets its receipt, not an error.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pymongo
from prometheus_client import CollectorRegistry, Counter
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from cart.domain import operations as ops
from cart.domain.model import Cart, DiscountType, now_ms
from cart.domain.operations import ItemRequest, PricingPolicy
from cart.domain.states import TRANSITIONS, Action, CartState, next_state
from cart.masterdata.repository import MasterDataRepository
from cart.services.contention import VersionConflictError, retried
from cart.services.locks import KeyedLocks
from cart.storage.carts import CartNotFoundError, CartStore
from cart.storage.stranded_sessions import StrandedSessions
from cart.storage.terminals import Terminal
from cart.storage.transactions import TransactionRecord, TransactionStore, TransactionType
from pos_commons import deadlines
from pos_commons.errors import AppError, NotFoundError, UnprocessableError
from pos_commons.mongo import Mongo

MIN_TRANSACTION_SECONDS = 0.001

KEYS_KEPT = 32
"""Idempotency keys a cart remembers (its last changes'): a terminal retries its latest call."""

Change = Callable[[Cart], Cart]


@dataclass(frozen=True)
class _Read:
    cart: Cart
    fresh: bool
    """Read from the database just now; else this process's copy, maybe stale."""


class IdempotencyKeyExpiredError(UnprocessableError):
    default_code = "IDEMPOTENCY_KEY_EXPIRED"


class AlreadyAppliedError(Exception):
    """The change of this Idempotency-Key is in the cart already (`cart`, as it is now)."""

    def __init__(self, cart: Cart) -> None:
        super().__init__(cart.cart_id)
        self.cart = cart


def _with_key(cart: Cart, key: str | None) -> Cart:
    if key is None:
        return cart
    return cart.model_copy(update={"idempotency_keys": [*cart.idempotency_keys, key][-KEYS_KEPT:]})


def _applied(cart: Cart, key: str | None) -> None:
    if key is not None and key in cart.idempotency_keys:
        raise AlreadyAppliedError(cart)


def keyed_cart_id(terminal: Terminal, key: str) -> str:
    """The id of the cart a keyed creation makes: the same for a retry, so it cannot make two."""
    scope = f"{terminal.tenant_id}/{terminal.store_code}/{terminal.terminal_no}/{key}"
    return hashlib.sha256(scope.encode()).hexdigest()[:32]


class CartService:
    def __init__(
        self,
        mongo: Mongo,
        carts: CartStore,
        transactions: TransactionStore,
        master_data: MasterDataRepository,
        policy: PricingPolicy,
        cart_ttl_seconds: int,
        transaction_timeout_seconds: float,
        registry: CollectorRegistry,
        max_waiters_per_cart: int,
        stranded: StrandedSessions,
    ) -> None:
        self._conflicts = Counter(
            "cart_write_conflicts",
            "Cart writes that found the cart changed by another process, and were retried.",
            registry=registry,
        )
        self._mongo = mongo
        self._carts = carts
        self._transactions = transactions
        self.master_data = master_data
        self._policy = policy
        self._ttl = timedelta(seconds=cart_ttl_seconds)
        self._transaction_timeout = transaction_timeout_seconds
        self._locks = KeyedLocks(max_waiters_per_cart)
        self._stranded = stranded

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    async def create(self, terminal: Terminal, key: str | None = None) -> Cart:
        now = now_ms()
        cart_id = uuid.uuid4().hex if key is None else keyed_cart_id(terminal, key)
        if key is not None and await self._transactions.closed(terminal.tenant_id, cart_id):
            # The key's cart was closed: a retry of its creation while it lives, else a key
            # used again once it expired, whose cart id is spent (its receipt keeps it).
            raise AlreadyAppliedError(await self._spent_key_cart(terminal, cart_id))
        cart = ops.new_cart(
            cart_id,
            terminal.tenant_id,
            terminal.store_code,
            terminal.terminal_no,
            now,
            now + self._ttl,
            self._policy,
        )
        try:
            await self._carts.insert(_with_key(cart, key))
        except DuplicateKeyError:
            raise AlreadyAppliedError(await self._spent_key_cart(terminal, cart_id)) from None
        return cart

    async def _spent_key_cart(self, terminal: Terminal, cart_id: str) -> Cart:
        """The live cart a create's key names already; a key whose cart expired (even if the
        database has not removed it yet) cannot name a new one."""
        try:
            return await self._load(terminal, cart_id)
        except CartNotFoundError:
            raise IdempotencyKeyExpiredError(
                "This Idempotency-Key named a cart that has expired; use a new key for a new cart.",
            ) from None

    async def get(self, terminal: Terminal, cart_id: str) -> Cart:
        return await self._load(terminal, cart_id)

    async def transaction(self, terminal: Terminal, receipt_no: int) -> TransactionRecord:
        return await self._transactions.get(
            terminal.tenant_id, terminal.store_code, terminal.terminal_no, receipt_no
        )

    async def add_items(
        self,
        terminal: Terminal,
        cart_id: str,
        requests: Sequence[ItemRequest],
        key: str | None = None,
    ) -> Cart:
        async with self._locked(terminal, cart_id, Action.ADD_ITEMS, key) as read:
            ops.check_item_requests(requests)  # before asking master-data anything
            codes = list(dict.fromkeys(request.item_code for request in requests))
            lookup = await self.master_data.get_items(
                terminal.tenant_id, terminal.store_code, codes
            )
            if lookup.missing:
                raise NotFoundError(
                    f"No item {', '.join(lookup.missing)}.",
                    code="ITEM_NOT_FOUND",
                    details={"itemCodes": lookup.missing},
                )
            return await self._commit(
                terminal,
                read,
                lambda c: ops.add_items(c, requests, lookup.found, self._policy),
                key,
            )

    async def cancel_line(
        self, terminal: Terminal, cart_id: str, line_no: int, key: str | None = None
    ) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.CANCEL_LINE,
            lambda c: ops.cancel_line(c, line_no, self._policy),
            key,
        )

    async def change_quantity(
        self,
        terminal: Terminal,
        cart_id: str,
        line_no: int,
        quantity: int,
        key: str | None = None,
    ) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.CHANGE_QUANTITY,
            lambda c: ops.change_quantity(c, line_no, quantity, self._policy),
            key,
        )

    async def change_unit_price(
        self,
        terminal: Terminal,
        cart_id: str,
        line_no: int,
        unit_price: Decimal,
        key: str | None = None,
    ) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.CHANGE_UNIT_PRICE,
            lambda c: ops.change_unit_price(c, line_no, unit_price, self._policy),
            key,
        )

    async def add_line_discount(
        self,
        terminal: Terminal,
        cart_id: str,
        line_no: int,
        discount_type: DiscountType,
        value: Decimal,
        key: str | None = None,
    ) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.ADD_LINE_DISCOUNT,
            lambda c: ops.add_line_discount(c, line_no, discount_type, value, self._policy),
            key,
        )

    async def subtotal(self, terminal: Terminal, cart_id: str, key: str | None = None) -> Cart:
        return await self._apply(
            terminal, cart_id, Action.SUBTOTAL, lambda c: ops.subtotal(c, self._policy), key
        )

    async def add_cart_discount(
        self,
        terminal: Terminal,
        cart_id: str,
        discount_type: DiscountType,
        value: Decimal,
        key: str | None = None,
    ) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.ADD_CART_DISCOUNT,
            lambda c: ops.add_cart_discount(c, discount_type, value, self._policy),
            key,
        )

    async def add_payment(
        self,
        terminal: Terminal,
        cart_id: str,
        payment_code: str,
        amount: Decimal,
        key: str | None = None,
    ) -> Cart:
        async with self._locked(terminal, cart_id, Action.ADD_PAYMENT, key) as read:
            try:
                method = await self.master_data.get_payment_method(terminal.tenant_id, payment_code)
            except NotFoundError as exc:
                if exc.code != "PAYMENT_METHOD_NOT_FOUND":
                    raise
                # Said like an unknown item: 404, this service's words, the code in details.
                raise NotFoundError(
                    f"No payment method {payment_code}.",
                    code="PAYMENT_METHOD_NOT_FOUND",
                    details={"paymentCode": payment_code},
                ) from exc
            return await self._commit(
                terminal, read, lambda c: ops.add_payment(c, method, amount, self._policy), key
            )

    async def resume_item_entry(
        self, terminal: Terminal, cart_id: str, key: str | None = None
    ) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.RESUME_ITEM_ENTRY,
            lambda c: ops.resume_item_entry(c, self._policy),
            key,
        )

    async def bill(self, terminal: Terminal, cart_id: str, key: str | None = None) -> Cart:
        return await self._close(terminal, cart_id, TransactionType.SALE, key)

    async def cancel(self, terminal: Terminal, cart_id: str, key: str | None = None) -> Cart:
        return await self._close(terminal, cart_id, TransactionType.CANCEL, key)

    # -- the machinery every change goes through ---------------------------------------------

    async def _load(self, terminal: Terminal, cart_id: str) -> Cart:
        return await self._carts.get(
            terminal.tenant_id, terminal.store_code, terminal.terminal_no, cart_id
        )

    @asynccontextmanager
    async def _locked(
        self, terminal: Terminal, cart_id: str, action: Action, key: str | None = None
    ) -> AsyncIterator[_Read]:
        """The cart, under its lock, after checking that `key` (if any) was not applied
        already and that `action` is allowed in its state (a cart that cannot take the action
        is refused before anything else happens: no master-data call).

        The cart is this process's copy when it has one that allows the action (see
        cart/storage/cart_cache.py); a refusal is only ever decided on a fresh read.
        """
        async with self._locks.hold(cart_id):
            copy = self._usable_copy(terminal, cart_id, action, key)
            if copy is not None:
                try:
                    yield _Read(copy, fresh=False)
                except AppError as refused:
                    if refused.status_code >= 500:
                        raise
                    # Refused while working from the copy (master-data knows no such item,
                    # say): the refusal stands only if the cart still takes the action.
                    await self._allowing(terminal, cart_id, action, key)
                    raise
                return
            yield _Read(await self._allowing(terminal, cart_id, action, key), fresh=True)

    async def _allowing(
        self, terminal: Terminal, cart_id: str, action: Action, key: str | None
    ) -> Cart:
        """The cart, read now, if `key` was not applied to it and it allows `action`."""
        cart = await self._load(terminal, cart_id)
        _applied(cart, key)
        next_state(cart.state, action)
        return cart

    def _usable_copy(
        self, terminal: Terminal, cart_id: str, action: Action, key: str | None
    ) -> Cart | None:
        """This process's copy of the cart, if it has one that allows `action` and has not
        applied `key`: anything else is decided on a fresh read."""
        copy = self._carts.recent(
            terminal.tenant_id, terminal.store_code, terminal.terminal_no, cart_id
        )
        if (
            copy is None
            or (copy.state, action) not in TRANSITIONS
            or (key is not None and key in copy.idempotency_keys)
        ):
            return None
        return copy

    async def _apply(
        self, terminal: Terminal, cart_id: str, action: Action, change: Change, key: str | None
    ) -> Cart:
        async with self._locked(terminal, cart_id, action, key) as read:
            return await self._commit(terminal, read, change, key)

    def _stamped(self, changed: Cart, read: Cart, key: str | None) -> Cart:
        now = now_ms()
        stamped = changed.model_copy(
            update={"version": read.version + 1, "updated_at": now, "expires_at": now + self._ttl}
        )
        return _with_key(stamped, key)

    async def _fresh(self, terminal: Terminal, cart_id: str, key: str | None) -> Cart:
        cart = await self._load(terminal, cart_id)
        _applied(cart, key)
        return cart

    async def _commit(
        self, terminal: Terminal, read: _Read, change: Change, key: str | None
    ) -> Cart:
        """Applies `change` and swaps the result in; on a version conflict, reloads and
        applies it again to the fresh cart (its rules are checked again too), until the
        request's deadline (contention.retried).

        Started from this process's copy, a refusal or a failed swap means only that the
        copy was stale: the change is decided again on a fresh read, at once.
        """
        cart = read.cart
        if not read.fresh:
            try:
                updated: Cart | None = self._stamped(change(cart), cart, key)
            except AppError:
                updated = None
            if updated is not None and await self._carts.replace(updated, cart.version):
                return updated
            cart = await self._fresh(terminal, cart.cart_id, key)
        first = cart

        async def attempt(again: bool) -> Cart:
            current = await self._fresh(terminal, first.cart_id, key) if again else first
            updated = self._stamped(change(current), current, key)
            if not await self._carts.replace(updated, current.version):
                self._conflicts.inc()
                raise VersionConflictError
            return updated

        return await retried(attempt)

    async def _close(
        self,
        terminal: Terminal,
        cart_id: str,
        transaction_type: TransactionType,
        key: str | None,
    ) -> Cart:
        """Bills or cancels: receipt number, cart and transaction record in one transaction.

        Starts from this process's copy when it has a usable one (a stale copy fails the
        versioned write, which rolls the transaction back: then it goes on from a fresh read
        at once). On a version conflict with a fresh read (another replica changed the cart)
        it reloads and decides again, until the request's deadline (contention.retried); a
        cart already closed the same way answers as it is when no key came with the request
        (a retry), else the state machine refuses (409).
        """
        sale = transaction_type is TransactionType.SALE
        action = Action.BILL if sale else Action.CANCEL
        done = CartState.COMPLETED if sale else CartState.CANCELLED
        check = ops.check_billable if sale else ops.check_cancellable

        async def attempt(again: bool) -> Cart:
            cart = await self._fresh(terminal, cart_id, key)
            if key is None and cart.state is done:
                return cart
            check(cart)
            try:
                return await self._close_once(cart, transaction_type, key)
            except VersionConflictError:
                self._conflicts.inc()
                raise

        async with self._locks.hold(cart_id):
            copy = self._usable_copy(terminal, cart_id, action, key)
            if copy is not None:
                try:
                    check(copy)
                    return await self._close_once(copy, transaction_type, key)
                except (AppError, VersionConflictError):
                    pass  # the copy was stale: decided again on a fresh read
            return await retried(attempt)

    async def _close_once(
        self, cart: Cart, transaction_type: TransactionType, key: str | None
    ) -> Cart:
        close = ops.bill if transaction_type is TransactionType.SALE else ops.cancel

        async def write(session: AsyncClientSession) -> Cart:
            receipt_no = await self._transactions.next_receipt_no(
                cart.tenant_id, cart.store_code, cart.terminal_no, session
            )
            closed = self._stamped(close(cart, receipt_no, uuid.uuid4().hex), cart, key)
            if not await self._carts.replace(closed, cart.version, session):
                raise VersionConflictError
            await self._transactions.insert(TransactionRecord.of(closed, transaction_type), session)
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
