"""What cart's API answers: the public shape of carts, transaction records and terminals.

The stored models (cart/domain/model.py, cart/storage/) also carry what only the server needs:
the tenant id (a terminal's key implies it), the compare-and-swap `version`, the idempotency
keys a cart remembers (a terminal's key hash is stored beside its model, and shown nowhere).
The models here are what a caller sees; each route answers one of them, and an
Idempotency-Key replay answers the same shape (it replays the bytes of a public answer).

A public model is taken from the stored one without validating again (`_shown`): the stored
model was validated when it was read or made, and the fields taken are the same objects, so
the conversion costs a few microseconds, not a second validation of the whole cart. A cart,
answered on every change, is not even converted: `encoded_cart` encodes the stored cart
without the fields its public model leaves out. The fields a public model has must be
fields of its stored model with the same types, in the same order
(tests/unit/cart/test_public_models.py checks this).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from cart.domain.model import Cart, Discount, LineItem, Payment, TaxSummary, Totals
from cart.domain.states import CartState
from cart.storage.terminals import Terminal
from cart.storage.transactions import TransactionRecord, TransactionType
from pos_commons.envelope import ApiModel, wire_json


class PublicModel(ApiModel):
    """Base of the answers; a field's docstring is its description in OpenAPI."""

    model_config = ConfigDict(use_attribute_docstrings=True)


def _shown(public: type[PublicModel], stored: BaseModel) -> dict[str, Any]:
    """The values of `stored` that `public` shows, as they are."""
    return {name: getattr(stored, name) for name in public.model_fields}


class CartPublic(PublicModel):
    """A cart as its terminal sees it."""

    cart_id: str
    store_code: str
    terminal_no: int
    state: CartState
    lines: list[LineItem]
    cart_discounts: list[Discount]
    payments: list[Payment]
    taxes: list[TaxSummary]
    totals: Totals
    receipt_no: int | None
    """Set when the cart is billed or cancelled: this terminal's receipt number."""
    transaction_id: str | None
    """Set with `receipt_no`: the id of the transaction record, unique across terminals."""
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    """When the cart expires unless changed again (CART_TTL_SECONDS after its last change)."""

    @classmethod
    def of(cls, cart: Cart) -> CartPublic:
        return cls.model_construct(**_shown(cls, cart))


_NOT_SHOWN = set(Cart.model_fields) - set(CartPublic.model_fields)


def encoded_cart(cart: Cart) -> bytes:
    """`CartPublic.of(cart)` as JSON, an answer's `data` (kept to be replayed by a keyed
    change): encoded from the cart itself, leaving out what the public model does not show,
    which gives the same bytes, the fields being the same in the same order
    (tests/unit/cart/test_public_models.py), without building the public model first."""
    return wire_json(cart, exclude=_NOT_SHOWN)


class TransactionPublic(PublicModel):
    """A transaction record (a sale or a cancel) as its terminal sees it."""

    transaction_id: str
    transaction_type: TransactionType
    receipt_no: int
    store_code: str
    terminal_no: int
    cart_id: str
    lines: list[LineItem]
    cart_discounts: list[Discount]
    payments: list[Payment]
    taxes: list[TaxSummary]
    totals: Totals
    created_at: datetime

    @classmethod
    def of(cls, record: TransactionRecord) -> TransactionPublic:
        return cls.model_construct(**_shown(cls, record))


class TerminalPublic(PublicModel):
    """A registered terminal, as the admin API shows it (never its key, nor the key's hash)."""

    terminal_id: str
    # Shown, unlike in a cart: the admin token spans tenants, and a listing without tenantId
    # shows every tenant's terminals (terminal 1 of store S001 may exist in each).
    tenant_id: str
    store_code: str
    terminal_no: int
    created_at: datetime
    updated_at: datetime
    """When the terminal was registered or its key last rotated."""

    @classmethod
    def of(cls, terminal: Terminal) -> TerminalPublic:
        return cls.model_construct(**_shown(cls, terminal))


class IssuedTerminal(TerminalPublic):
    """A terminal with its API key: answered once, when issued or rotated."""

    api_key: str

    @classmethod
    def issued(cls, terminal: Terminal, api_key: str) -> IssuedTerminal:
        return cls.model_construct(**_shown(TerminalPublic, terminal), api_key=api_key)
