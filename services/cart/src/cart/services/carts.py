"""What each cart call does: start a cart, read one, and run a change (services/commands.py)
through the unit of work (cart/storage/unit_of_work.py), which holds the cart's lock, starts
from the cart cache, writes with a version check and retries a lost race.

A change made with an Idempotency-Key writes the key into the cart with it (the same
versioned write): a retry that finds its key in the cart was applied already
(`AlreadyAppliedError`), however it got there. Billing a cart that is already billed (or
cancelling a cancelled one) without a key answers the cart as it is: a retry after an
unknown outcome gets its receipt, not an error.
"""

from __future__ import annotations

import hashlib
import uuid

from cart.domain import operations as ops
from cart.domain.idempotency_keys import AlreadyAppliedError, with_key
from cart.domain.model import Cart, now_ms
from cart.domain.operations import PricingPolicy
from cart.masterdata.repository import MasterDataRepository
from cart.services.commands import CloseCommand, Command
from cart.storage.carts import CartNotFoundError
from cart.storage.terminals import Terminal
from cart.storage.transactions import TransactionRecord, TransactionStore
from cart.storage.unit_of_work import Apply, CartUnitOfWork
from pos_commons.errors import UnprocessableError


class IdempotencyKeyExpiredError(UnprocessableError):
    default_code = "IDEMPOTENCY_KEY_EXPIRED"


def keyed_cart_id(terminal: Terminal, key: str) -> str:
    """The id of the cart a keyed creation makes: the same for a retry, so it cannot make two."""
    scope = f"{terminal.tenant_id}/{terminal.store_code}/{terminal.terminal_no}/{key}"
    return hashlib.sha256(scope.encode()).hexdigest()[:32]


class CartService:
    def __init__(
        self,
        work: CartUnitOfWork,
        transactions: TransactionStore,
        master_data: MasterDataRepository,
        policy: PricingPolicy,
    ) -> None:
        self._work = work
        self._transactions = transactions
        self._master_data = master_data
        self._policy = policy

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
            now + self._work.ttl,
            self._policy,
        )
        if not await self._work.insert(with_key(cart, key)):
            raise AlreadyAppliedError(await self._spent_key_cart(terminal, cart_id))
        return cart

    async def _spent_key_cart(self, terminal: Terminal, cart_id: str) -> Cart:
        """The live cart a create's key names already; a key whose cart expired (even if the
        database has not removed it yet) cannot name a new one."""
        try:
            return await self._work.load(terminal, cart_id)
        except CartNotFoundError:
            raise IdempotencyKeyExpiredError(
                "This Idempotency-Key named a cart that has expired; use a new key for a new cart.",
            ) from None

    async def get(self, terminal: Terminal, cart_id: str) -> Cart:
        return await self._work.load(terminal, cart_id)

    async def transaction(self, terminal: Terminal, receipt_no: int) -> TransactionRecord:
        return await self._transactions.get(
            terminal.tenant_id, terminal.store_code, terminal.terminal_no, receipt_no
        )

    async def change(
        self,
        terminal: Terminal,
        cart_id: str,
        command: Command | CloseCommand,
        key: str | None = None,
    ) -> Cart:
        """The cart after `command` (made with Idempotency-Key `key`, if any)."""
        if isinstance(command, CloseCommand):
            return await self._work.close(terminal, cart_id, command, key)

        async def prepare() -> Apply:
            ready = await command.looked_up(self._master_data, terminal)
            return lambda cart: ready.apply(cart, self._policy)

        return await self._work.change(terminal, cart_id, command.action, key, prepare)
