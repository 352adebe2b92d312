"""The public models (cart/api/public.py) against the stored ones: each public field is a stored
field of the same type (they are taken over without validating again), every stored field is
either shown or named here as kept for the server only, and a public model dumps exactly the
stored model's values of its fields. What the running service answers is in test_api.py."""

from __future__ import annotations

import warnings
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from cart.api.public import (
    CartPublic,
    IssuedTerminal,
    TerminalPublic,
    TransactionPublic,
    encoded_cart,
)
from cart.domain.model import Cart, TaxType
from cart.domain.operations import (
    ItemRequest,
    add_items,
    add_payment,
    bill,
    new_cart,
    subtotal,
)
from cart.storage.terminals import Terminal
from cart.storage.transactions import TransactionRecord, TransactionType
from pos_commons.envelope import to_wire, wire_json
from tests.unit.cart.catalog import NOW, POLICY, item, payment_method, tax_rule

# What each stored model keeps for the server only. A new stored field fails
# test_every_stored_field_is_shown_or_kept_back until it is shown or listed here.
KEPT_BACK: dict[type[BaseModel], set[str]] = {
    Cart: {"tenant_id", "version", "idempotency_keys"},
    TransactionRecord: {"tenant_id"},
    Terminal: set(),  # the key's hash is stored beside it, never in the model
}
PAIRS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (CartPublic, Cart),
    (TransactionPublic, TransactionRecord),
    (TerminalPublic, Terminal),
]


@pytest.mark.parametrize(("public", "stored"), PAIRS, ids=lambda model: model.__name__)
def test_each_public_field_is_a_stored_field_of_the_same_type(
    public: type[BaseModel], stored: type[BaseModel]
) -> None:
    for name, field in public.model_fields.items():
        assert name in stored.model_fields, f"{public.__name__}.{name} is not stored"
        assert field.annotation == stored.model_fields[name].annotation, name


@pytest.mark.parametrize(("public", "stored"), PAIRS, ids=lambda model: model.__name__)
def test_every_stored_field_is_shown_or_kept_back(
    public: type[BaseModel], stored: type[BaseModel]
) -> None:
    assert set(stored.model_fields) - set(public.model_fields) == KEPT_BACK[stored]


def _billed_cart() -> Cart:
    tax = tax_rule("T10", TaxType.EXTERNAL, 10, name="VAT 10%")
    tea = item("TEA", "4.00", tax_rule=tax, description="Tea", short_description="Tea")
    cash = payment_method("01", "Cash", change=True, exceed=True)
    cart = new_cart("c" * 32, "tenant-1", "S001", 7, NOW, NOW + timedelta(days=1), POLICY)
    cart = add_items(cart, [ItemRequest("TEA", 2, None)], {"TEA": tea}, POLICY)
    cart = add_payment(subtotal(cart, POLICY), cash, Decimal(10), POLICY)
    cart = bill(cart, 12, "t" * 32)
    return cart.model_copy(update={"version": 5, "idempotency_keys": ["k1", "k2"]})


def _without(wire: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {key: value for key, value in wire.items() if key not in names}


def test_the_public_models_show_the_stored_values_and_nothing_else() -> None:
    cart = _billed_cart()
    record = TransactionRecord.of(cart, TransactionType.SALE)
    terminal = Terminal(
        terminal_id="f" * 32, tenant_id="tenant-1", store_code="S001", terminal_no=7,
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a serializer warning is a type mismatch
        shown = to_wire(CartPublic.of(cart))
        assert shown == _without(to_wire(cart), {"tenantId", "version"})
        assert list(shown) == [CartPublic.model_fields[n].alias for n in CartPublic.model_fields]
        # What cart answers and a keyed change replays: the public model's own bytes.
        assert encoded_cart(cart) == wire_json(CartPublic.of(cart))
        assert to_wire(TransactionPublic.of(record)) == _without(to_wire(record), {"tenantId"})
        assert to_wire(TerminalPublic.of(terminal)) == to_wire(terminal)
        issued = to_wire(IssuedTerminal.issued(terminal, "pos_key"))
        assert issued == {**to_wire(terminal), "apiKey": "pos_key"}
