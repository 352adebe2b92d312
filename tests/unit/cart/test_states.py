"""The cart's state machine: every (state, action) pair, allowed or refused with a 409.

The expected table is written out here by hand, independently of cart.domain.states.
"""

from __future__ import annotations

import itertools
import re

import pytest

from cart.domain.states import (
    TRANSITIONS,
    Action,
    ActionNotAllowedError,
    CartState,
    allowed_actions,
    next_state,
)
from pos_commons.errors import ConflictError

S, A = CartState, Action

EXPECTED: dict[tuple[CartState, Action], CartState] = {
    (S.IDLE, A.ADD_ITEMS): S.ENTERING_ITEM,
    (S.IDLE, A.CANCEL): S.CANCELLED,
    (S.ENTERING_ITEM, A.ADD_ITEMS): S.ENTERING_ITEM,
    (S.ENTERING_ITEM, A.CANCEL_LINE): S.ENTERING_ITEM,
    (S.ENTERING_ITEM, A.CHANGE_QUANTITY): S.ENTERING_ITEM,
    (S.ENTERING_ITEM, A.CHANGE_UNIT_PRICE): S.ENTERING_ITEM,
    (S.ENTERING_ITEM, A.ADD_LINE_DISCOUNT): S.ENTERING_ITEM,
    (S.ENTERING_ITEM, A.SUBTOTAL): S.PAYING,
    (S.ENTERING_ITEM, A.CANCEL): S.CANCELLED,
    (S.PAYING, A.ADD_CART_DISCOUNT): S.PAYING,
    (S.PAYING, A.ADD_PAYMENT): S.PAYING,
    (S.PAYING, A.RESUME_ITEM_ENTRY): S.ENTERING_ITEM,
    (S.PAYING, A.BILL): S.COMPLETED,
    (S.PAYING, A.CANCEL): S.CANCELLED,
}

STATE_CODES = {
    S.IDLE: "IDLE",
    S.ENTERING_ITEM: "ENTERING_ITEM",
    S.PAYING: "PAYING",
    S.COMPLETED: "COMPLETED",
    S.CANCELLED: "CANCELLED",
}

ACTION_CODES = {
    A.ADD_ITEMS: "ADD_ITEMS",
    A.CANCEL_LINE: "CANCEL_LINE",
    A.CHANGE_QUANTITY: "CHANGE_QUANTITY",
    A.CHANGE_UNIT_PRICE: "CHANGE_UNIT_PRICE",
    A.ADD_LINE_DISCOUNT: "ADD_LINE_DISCOUNT",
    A.SUBTOTAL: "SUBTOTAL",
    A.ADD_CART_DISCOUNT: "ADD_CART_DISCOUNT",
    A.ADD_PAYMENT: "ADD_PAYMENT",
    A.RESUME_ITEM_ENTRY: "RESUME_ITEM_ENTRY",
    A.BILL: "BILL",
    A.CANCEL: "CANCEL",
}

EXPECTED_ALLOWED: dict[CartState, set[str]] = {
    S.IDLE: {"addItems", "cancel"},
    S.ENTERING_ITEM: {
        "addItems",
        "cancelLine",
        "changeQuantity",
        "changeUnitPrice",
        "addLineDiscount",
        "subtotal",
        "cancel",
    },
    S.PAYING: {"addCartDiscount", "addPayment", "resumeItemEntry", "bill", "cancel"},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
}

ALL_PAIRS = list(itertools.product(CartState, Action))
ALLOWED_PAIRS = [pair for pair in ALL_PAIRS if pair in EXPECTED]
REFUSED_PAIRS = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


def test_enum_values_are_the_wire_names() -> None:
    assert [state.value for state in CartState] == [
        "Idle",
        "EnteringItem",
        "Paying",
        "Completed",
        "Cancelled",
    ]
    assert [action.value for action in Action] == [
        "addItems",
        "cancelLine",
        "changeQuantity",
        "changeUnitPrice",
        "addLineDiscount",
        "subtotal",
        "addCartDiscount",
        "addPayment",
        "resumeItemEntry",
        "bill",
        "cancel",
    ]


def test_the_table_is_exactly_the_documented_one() -> None:
    assert TRANSITIONS == EXPECTED


def test_every_pair_is_either_allowed_or_refused() -> None:
    assert len(ALL_PAIRS) == 5 * 11
    assert len(ALLOWED_PAIRS) == 14
    assert len(REFUSED_PAIRS) == 55 - 14


@pytest.mark.parametrize(("state", "action"), ALLOWED_PAIRS)
def test_allowed_transition(state: CartState, action: Action) -> None:
    assert next_state(state, action) is EXPECTED[(state, action)]


@pytest.mark.parametrize(("state", "action"), REFUSED_PAIRS)
def test_refused_transition(state: CartState, action: Action) -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        next_state(state, action)
    error = info.value
    assert isinstance(error, ConflictError)
    assert error.status_code == 409
    assert error.code == f"{ACTION_CODES[action]}_NOT_ALLOWED_IN_{STATE_CODES[state]}"
    assert error.details["state"] == state.value
    assert error.details["action"] == action.value
    assert set(error.details["allowedActions"]) == EXPECTED_ALLOWED[state]
    assert len(error.details["allowedActions"]) == len(EXPECTED_ALLOWED[state])
    # Said in the API's words, not the code's ("addItems", "EnteringItem" stay out of it).
    assert not re.search(r"[a-z][A-Z]", error.message), error.message
    assert error.message.endswith(".")
    assert error.message[0].isupper()


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        (S.COMPLETED, A.ADD_ITEMS, "Items cannot be added to a completed cart."),
        (S.ENTERING_ITEM, A.BILL, "A cart in item entry cannot be billed."),
        (S.IDLE, A.SUBTOTAL, "An empty cart cannot go to payment."),
        (S.PAYING, A.CHANGE_QUANTITY, "Quantities cannot be changed in a cart in payment."),
        (S.CANCELLED, A.CANCEL, "A cancelled cart cannot be cancelled."),
        (S.ENTERING_ITEM, A.ADD_PAYMENT, "A cart in item entry cannot take payments."),
    ],
)
def test_refusals_read_in_the_apis_words(state: CartState, action: Action, message: str) -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        next_state(state, action)
    assert info.value.message == message


@pytest.mark.parametrize(
    ("state", "action", "code"),
    [
        (S.ENTERING_ITEM, A.BILL, "BILL_NOT_ALLOWED_IN_ENTERING_ITEM"),
        (S.COMPLETED, A.ADD_ITEMS, "ADD_ITEMS_NOT_ALLOWED_IN_COMPLETED"),
        (S.IDLE, A.SUBTOTAL, "SUBTOTAL_NOT_ALLOWED_IN_IDLE"),
        (S.ENTERING_ITEM, A.RESUME_ITEM_ENTRY, "RESUME_ITEM_ENTRY_NOT_ALLOWED_IN_ENTERING_ITEM"),
        (S.PAYING, A.CHANGE_UNIT_PRICE, "CHANGE_UNIT_PRICE_NOT_ALLOWED_IN_PAYING"),
        (S.CANCELLED, A.CANCEL, "CANCEL_NOT_ALLOWED_IN_CANCELLED"),
        (S.ENTERING_ITEM, A.ADD_CART_DISCOUNT, "ADD_CART_DISCOUNT_NOT_ALLOWED_IN_ENTERING_ITEM"),
    ],
)
def test_refusal_codes_spelled_out(state: CartState, action: Action, code: str) -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        next_state(state, action)
    assert info.value.code == code


def test_refusal_details_list_the_allowed_actions_of_paying() -> None:
    with pytest.raises(ActionNotAllowedError) as info:
        next_state(S.PAYING, A.ADD_ITEMS)
    assert info.value.details == {
        "state": "Paying",
        "action": "addItems",
        "allowedActions": ["addCartDiscount", "addPayment", "resumeItemEntry", "bill", "cancel"],
    }


@pytest.mark.parametrize("state", list(CartState))
def test_allowed_actions(state: CartState) -> None:
    assert {action.value for action in allowed_actions(state)} == EXPECTED_ALLOWED[state]


@pytest.mark.parametrize("state", [S.COMPLETED, S.CANCELLED])
def test_final_states_allow_nothing(state: CartState) -> None:
    assert allowed_actions(state) == []
    for action in Action:
        with pytest.raises(ActionNotAllowedError) as info:
            next_state(state, action)
        assert info.value.details["allowedActions"] == []


def test_cancel_is_allowed_from_every_open_state() -> None:
    for state in (S.IDLE, S.ENTERING_ITEM, S.PAYING):
        assert next_state(state, A.CANCEL) is S.CANCELLED


def test_a_full_sale_walks_the_table() -> None:
    state = S.IDLE
    for action, expected in [
        (A.ADD_ITEMS, S.ENTERING_ITEM),
        (A.CHANGE_QUANTITY, S.ENTERING_ITEM),
        (A.SUBTOTAL, S.PAYING),
        (A.RESUME_ITEM_ENTRY, S.ENTERING_ITEM),
        (A.SUBTOTAL, S.PAYING),
        (A.ADD_CART_DISCOUNT, S.PAYING),
        (A.ADD_PAYMENT, S.PAYING),
        (A.BILL, S.COMPLETED),
    ]:
        state = next_state(state, action)
        assert state is expected
