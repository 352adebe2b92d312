"""The changes a terminal asks of a cart, one small class each: the action the state machine
checks, what the change needs from master-data, and the domain operation it applies.

`CartService.change` runs any of them: a `Command` through the unit of work's versioned
write, a `CloseCommand` (bill, cancel) through its transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import ClassVar

from cart.domain import operations as ops
from cart.domain.model import Cart, DiscountType
from cart.domain.operations import ItemInfo, ItemRequest, PaymentMethodInfo, PricingPolicy
from cart.domain.states import Action, CartState
from cart.masterdata.repository import MasterDataRepository
from cart.storage.terminals import Terminal
from cart.storage.transactions import TransactionType
from pos_commons.errors import NotFoundError


class Command(ABC):
    """A change of an open cart."""

    action: ClassVar[Action]

    async def looked_up(self, master_data: MasterDataRepository, terminal: Terminal) -> Command:
        """This command with the master data it needs; asked under the cart's lock, once the
        cart's state allows `action` (a refused cart costs master-data nothing)."""
        return self

    @abstractmethod
    def apply(self, cart: Cart, policy: PricingPolicy) -> Cart:
        """The domain operation: `cart` changed, or a refusal raised."""


@dataclass(frozen=True)
class AddItems(Command):
    action: ClassVar[Action] = Action.ADD_ITEMS
    requests: Sequence[ItemRequest]
    items: Mapping[str, ItemInfo] = field(default_factory=dict)
    """The requested items master-data knows (the domain refuses the others)."""

    async def looked_up(self, master_data: MasterDataRepository, terminal: Terminal) -> Command:
        ops.check_item_requests(self.requests)  # a bad quantity costs master-data nothing
        codes = list(dict.fromkeys(request.item_code for request in self.requests))
        lookup = await master_data.get_items(terminal.tenant_id, terminal.store_code, codes)
        return replace(self, items=lookup.found)

    def apply(self, cart: Cart, policy: PricingPolicy) -> Cart:
        return ops.add_items(cart, self.requests, self.items, policy)


@dataclass(frozen=True)
class CancelLine(Command):
    action: ClassVar[Action] = Action.CANCEL_LINE
    line_no: int

    def apply(self, cart: Cart, policy: PricingPolicy) -> Cart:
        return ops.cancel_line(cart, self.line_no, policy)


@dataclass(frozen=True)
class ChangeQuantity(Command):
    action: ClassVar[Action] = Action.CHANGE_QUANTITY
    line_no: int
    quantity: int

    def apply(self, cart: Cart, policy: PricingPolicy) -> Cart:
        return ops.change_quantity(cart, self.line_no, self.quantity, policy)


@dataclass(frozen=True)
class ChangeUnitPrice(Command):
    action: ClassVar[Action] = Action.CHANGE_UNIT_PRICE
    line_no: int
    unit_price: Decimal

    def apply(self, cart: Cart, policy: PricingPolicy) -> Cart:
        return ops.change_unit_price(cart, self.line_no, self.unit_price, policy)


@dataclass(frozen=True)
class AddLineDiscount(Command):
    action: ClassVar[Action] = Action.ADD_LINE_DISCOUNT
    line_no: int
    discount_type: DiscountType
    value: Decimal

    def apply(self, cart: Cart, policy: PricingPolicy) -> Cart:
        return ops.add_line_discount(cart, self.line_no, self.discount_type, self.value, policy)


@dataclass(frozen=True)
class Subtotal(Command):
    action: ClassVar[Action] = Action.SUBTOTAL

    def apply(self, cart: Cart, policy: PricingPolicy) -> Cart:
        return ops.subtotal(cart, policy)


@dataclass(frozen=True)
class AddCartDiscount(Command):
    action: ClassVar[Action] = Action.ADD_CART_DISCOUNT
    discount_type: DiscountType
    value: Decimal

    def apply(self, cart: Cart, policy: PricingPolicy) -> Cart:
        return ops.add_cart_discount(cart, self.discount_type, self.value, policy)


@dataclass(frozen=True)
class AddPayment(Command):
    action: ClassVar[Action] = Action.ADD_PAYMENT
    payment_code: str
    amount: Decimal
    method: PaymentMethodInfo | None = None
    """Master-data's payment method (`looked_up`)."""

    async def looked_up(self, master_data: MasterDataRepository, terminal: Terminal) -> Command:
        try:
            method = await master_data.get_payment_method(terminal.tenant_id, self.payment_code)
        except NotFoundError as exc:
            if exc.code != "PAYMENT_METHOD_NOT_FOUND":
                raise
            # Said like an unknown item: 404, this service's words, the code in details.
            raise NotFoundError(
                f"No payment method {self.payment_code}.",
                code="PAYMENT_METHOD_NOT_FOUND",
                details={"paymentCode": self.payment_code},
            ) from exc
        return replace(self, method=method)

    def apply(self, cart: Cart, policy: PricingPolicy) -> Cart:
        assert self.method is not None, "looked up first"
        return ops.add_payment(cart, self.method, self.amount, policy)


@dataclass(frozen=True)
class ResumeItemEntry(Command):
    action: ClassVar[Action] = Action.RESUME_ITEM_ENTRY

    def apply(self, cart: Cart, policy: PricingPolicy) -> Cart:
        return ops.resume_item_entry(cart, policy)


class CloseCommand(ABC):
    """A change that closes the cart: a receipt number and a transaction record with it
    (cart/storage/unit_of_work.py `Closing`)."""

    action: ClassVar[Action]
    transaction_type: ClassVar[TransactionType]
    done: ClassVar[CartState]

    @abstractmethod
    def check(self, cart: Cart) -> None: ...

    @abstractmethod
    def close(self, cart: Cart, receipt_no: int, transaction_id: str) -> Cart: ...


@dataclass(frozen=True)
class Bill(CloseCommand):
    action: ClassVar[Action] = Action.BILL
    transaction_type: ClassVar[TransactionType] = TransactionType.SALE
    done: ClassVar[CartState] = CartState.COMPLETED

    def check(self, cart: Cart) -> None:
        ops.check_billable(cart)

    def close(self, cart: Cart, receipt_no: int, transaction_id: str) -> Cart:
        return ops.bill(cart, receipt_no, transaction_id)


@dataclass(frozen=True)
class CancelCart(CloseCommand):
    action: ClassVar[Action] = Action.CANCEL
    transaction_type: ClassVar[TransactionType] = TransactionType.CANCEL
    done: ClassVar[CartState] = CartState.CANCELLED

    def check(self, cart: Cart) -> None:
        ops.check_cancellable(cart)

    def close(self, cart: Cart, receipt_no: int, transaction_id: str) -> Cart:
        return ops.cancel(cart, receipt_no, transaction_id)
