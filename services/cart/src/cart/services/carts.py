"""What each cart call does: load under a per-cart lock, check the state, ask master-data,
apply the pure domain operation, and compare-and-swap the result into MongoDB.

Two layers keep concurrent changes from being lost. Inside one process, a per-cart lock
queues them. Across processes (several cart replicas), the version compare-and-swap catches
the loser, which reloads, reapplies its change to the fresh cart and tries again, a bounded
number of times. Billing and cancelling also take a receipt number and write the transaction
record; those three writes are one MongoDB transaction, so receipt numbers have no gaps.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter
from pymongo.errors import PyMongoError

from cart.domain import operations as ops
from cart.domain.model import Cart, DiscountType, now_ms
from cart.domain.operations import ItemRequest, PricingPolicy
from cart.domain.states import Action, next_state
from cart.masterdata.repository import MasterDataRepository
from cart.services.locks import KeyedLocks
from cart.storage.carts import CartStore
from cart.storage.terminals import Terminal
from cart.storage.transactions import TransactionRecord, TransactionStore, TransactionType
from pos_commons.errors import ConflictError, NotFoundError, UnprocessableError
from pos_commons.mongo import Mongo

MAX_WRITE_ATTEMPTS = 8

Change = Callable[[Cart], Cart]


class _VersionConflictError(Exception):
    """The cart changed since it was read."""


class CartConflictError(ConflictError):
    default_code = "CART_CONFLICT"


async def _pause(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311 - jitter


class CartService:
    def __init__(
        self,
        mongo: Mongo,
        carts: CartStore,
        transactions: TransactionStore,
        master_data: MasterDataRepository,
        policy: PricingPolicy,
        cart_ttl_seconds: int,
        registry: CollectorRegistry,
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
        self._locks = KeyedLocks()

    async def create(self, terminal: Terminal) -> Cart:
        now = now_ms()
        cart = ops.new_cart(
            uuid.uuid4().hex,
            terminal.tenant_id,
            terminal.store_code,
            terminal.terminal_no,
            now,
            now + self._ttl,
        )
        await self._carts.insert(cart)
        return cart

    async def get(self, terminal: Terminal, cart_id: str) -> Cart:
        return await self._load(terminal, cart_id)

    async def transaction(self, terminal: Terminal, receipt_no: int) -> TransactionRecord:
        return await self._transactions.get(
            terminal.tenant_id, terminal.store_code, terminal.terminal_no, receipt_no
        )

    async def add_items(
        self, terminal: Terminal, cart_id: str, requests: Sequence[ItemRequest]
    ) -> Cart:
        async with self._locked(terminal, cart_id, Action.ADD_ITEMS) as cart:
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
                terminal, cart, lambda c: ops.add_items(c, requests, lookup.found, self._policy)
            )

    async def cancel_line(self, terminal: Terminal, cart_id: str, line_no: int) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.CANCEL_LINE,
            lambda c: ops.cancel_line(c, line_no, self._policy),
        )

    async def change_quantity(
        self, terminal: Terminal, cart_id: str, line_no: int, quantity: int
    ) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.CHANGE_QUANTITY,
            lambda c: ops.change_quantity(c, line_no, quantity, self._policy),
        )

    async def change_unit_price(
        self, terminal: Terminal, cart_id: str, line_no: int, unit_price: Decimal
    ) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.CHANGE_UNIT_PRICE,
            lambda c: ops.change_unit_price(c, line_no, unit_price, self._policy),
        )

    async def add_line_discount(
        self,
        terminal: Terminal,
        cart_id: str,
        line_no: int,
        discount_type: DiscountType,
        value: Decimal,
    ) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.ADD_LINE_DISCOUNT,
            lambda c: ops.add_line_discount(c, line_no, discount_type, value, self._policy),
        )

    async def subtotal(self, terminal: Terminal, cart_id: str) -> Cart:
        return await self._apply(
            terminal, cart_id, Action.SUBTOTAL, lambda c: ops.subtotal(c, self._policy)
        )

    async def add_cart_discount(
        self, terminal: Terminal, cart_id: str, discount_type: DiscountType, value: Decimal
    ) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.ADD_CART_DISCOUNT,
            lambda c: ops.add_cart_discount(c, discount_type, value, self._policy),
        )

    async def add_payment(
        self, terminal: Terminal, cart_id: str, payment_code: str, amount: Decimal
    ) -> Cart:
        async with self._locked(terminal, cart_id, Action.ADD_PAYMENT) as cart:
            try:
                method = await self.master_data.get_payment_method(terminal.tenant_id, payment_code)
            except NotFoundError as exc:
                if exc.code != "PAYMENT_METHOD_NOT_FOUND":
                    raise
                raise UnprocessableError(
                    f"Unknown payment method {payment_code!r}.",
                    code="UNKNOWN_PAYMENT_METHOD",
                    details={"paymentCode": payment_code},
                ) from exc
            return await self._commit(
                terminal, cart, lambda c: ops.add_payment(c, method, amount, self._policy)
            )

    async def resume_item_entry(self, terminal: Terminal, cart_id: str) -> Cart:
        return await self._apply(
            terminal,
            cart_id,
            Action.RESUME_ITEM_ENTRY,
            lambda c: ops.resume_item_entry(c, self._policy),
        )

    async def bill(self, terminal: Terminal, cart_id: str) -> Cart:
        async with self._locked(terminal, cart_id, Action.BILL) as cart:
            return await self._close(terminal, cart, TransactionType.SALE)

    async def cancel(self, terminal: Terminal, cart_id: str) -> Cart:
        async with self._locked(terminal, cart_id, Action.CANCEL) as cart:
            return await self._close(terminal, cart, TransactionType.CANCEL)

    # -- the machinery every change goes through ---------------------------------------------

    async def _load(self, terminal: Terminal, cart_id: str) -> Cart:
        return await self._carts.get(
            terminal.tenant_id, terminal.store_code, terminal.terminal_no, cart_id
        )

    @asynccontextmanager
    async def _locked(
        self, terminal: Terminal, cart_id: str, action: Action
    ) -> AsyncIterator[Cart]:
        """The cart, loaded under its lock, after checking `action` is allowed in its state
        (a cart that cannot take the action is refused before anything else happens)."""
        async with self._locks.hold(cart_id):
            cart = await self._load(terminal, cart_id)
            next_state(cart.state, action)
            yield cart

    async def _apply(
        self, terminal: Terminal, cart_id: str, action: Action, change: Change
    ) -> Cart:
        async with self._locked(terminal, cart_id, action) as cart:
            return await self._commit(terminal, cart, change)

    def _stamped(self, changed: Cart, read: Cart) -> Cart:
        now = now_ms()
        return changed.model_copy(
            update={"version": read.version + 1, "updated_at": now, "expires_at": now + self._ttl}
        )

    async def _commit(self, terminal: Terminal, cart: Cart, change: Change) -> Cart:
        """Applies `change` and swaps the result in; on a version conflict, reloads and
        applies it again to the fresh cart (its rules are checked again too)."""
        for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
            updated = self._stamped(change(cart), cart)
            if await self._carts.replace(updated, cart.version):
                return updated
            self._conflicts.inc()
            if attempt < MAX_WRITE_ATTEMPTS:
                await _pause(attempt)
                cart = await self._load(terminal, cart.cart_id)
        raise CartConflictError("The cart is being changed elsewhere; try again.")

    async def _close(
        self, terminal: Terminal, cart: Cart, transaction_type: TransactionType
    ) -> Cart:
        close = ops.bill if transaction_type is TransactionType.SALE else ops.cancel
        if transaction_type is TransactionType.SALE:
            ops.check_billable(cart)
        for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
            try:
                return await self._close_once(cart, close, transaction_type)
            except _VersionConflictError:
                self._conflicts.inc()
            except PyMongoError as exc:
                if not exc.has_error_label("TransientTransactionError"):
                    raise
            if attempt < MAX_WRITE_ATTEMPTS:
                await _pause(attempt)
                cart = await self._load(terminal, cart.cart_id)
                next_state(cart.state, Action.BILL if close is ops.bill else Action.CANCEL)
        raise CartConflictError("The cart is being changed elsewhere; try again.")

    async def _close_once(
        self,
        cart: Cart,
        close: Callable[[Cart, int, str], Cart],
        transaction_type: TransactionType,
    ) -> Cart:
        async with (
            self._mongo.client.start_session() as session,
            await session.start_transaction(),
        ):
            receipt_no = await self._transactions.next_receipt_no(
                cart.tenant_id, cart.store_code, cart.terminal_no, session
            )
            closed = self._stamped(close(cart, receipt_no, uuid.uuid4().hex), cart)
            if not await self._carts.replace(closed, cart.version, session):
                raise _VersionConflictError
            await self._transactions.insert(TransactionRecord.of(closed, transaction_type), session)
        return closed
