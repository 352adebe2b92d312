"""The cart's state machine as an explicit table: (state, action) -> next state.

What is allowed is read from this table and nowhere else.
"""

from __future__ import annotations

from enum import StrEnum

from pos_commons.errors import ConflictError


class CartState(StrEnum):
    IDLE = "Idle"
    ENTERING_ITEM = "EnteringItem"
    PAYING = "Paying"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


class Action(StrEnum):
    ADD_ITEMS = "addItems"
    CANCEL_LINE = "cancelLine"
    CHANGE_QUANTITY = "changeQuantity"
    CHANGE_UNIT_PRICE = "changeUnitPrice"
    ADD_LINE_DISCOUNT = "addLineDiscount"
    SUBTOTAL = "subtotal"
    ADD_CART_DISCOUNT = "addCartDiscount"
    ADD_PAYMENT = "addPayment"
    RESUME_ITEM_ENTRY = "resumeItemEntry"
    BILL = "bill"
    CANCEL = "cancel"


S, A = CartState, Action

TRANSITIONS: dict[tuple[CartState, Action], CartState] = {
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


# How a refusal reads, in the API's terms: "Items cannot be added to a completed cart."
_REFUSED: dict[Action, str] = {
    A.ADD_ITEMS: "Items cannot be added to {cart}.",
    A.CANCEL_LINE: "Lines cannot be cancelled in {cart}.",
    A.CHANGE_QUANTITY: "Quantities cannot be changed in {cart}.",
    A.CHANGE_UNIT_PRICE: "Unit prices cannot be changed in {cart}.",
    A.ADD_LINE_DISCOUNT: "Lines cannot be discounted in {cart}.",
    A.SUBTOTAL: "{Cart} cannot go to payment.",
    A.ADD_CART_DISCOUNT: "{Cart} cannot take a cart discount.",
    A.ADD_PAYMENT: "{Cart} cannot take payments.",
    A.RESUME_ITEM_ENTRY: "{Cart} cannot go back to item entry.",
    A.BILL: "{Cart} cannot be billed.",
    A.CANCEL: "{Cart} cannot be cancelled.",
}
_CART_IN: dict[CartState, str] = {
    S.IDLE: "an empty cart",
    S.ENTERING_ITEM: "a cart in item entry",
    S.PAYING: "a cart in payment",
    S.COMPLETED: "a completed cart",
    S.CANCELLED: "a cancelled cart",
}


def refusal(state: CartState, action: Action) -> str:
    cart = _CART_IN[state]
    return _REFUSED[action].format(cart=cart, Cart=cart[0].upper() + cart[1:])


def _snake_upper(name: str) -> str:
    return "".join(f"_{c}" if c.isupper() else c for c in name).upper().lstrip("_")


def allowed_actions(state: CartState) -> list[Action]:
    return [action for (from_state, action) in TRANSITIONS if from_state is state]


class ActionNotAllowedError(ConflictError):
    """409 with a code naming the action and the state, e.g. BILL_NOT_ALLOWED_IN_ENTERING_ITEM."""

    def __init__(self, state: CartState, action: Action) -> None:
        super().__init__(
            refusal(state, action),
            code=f"{_snake_upper(action.value)}_NOT_ALLOWED_IN_{_snake_upper(state.value)}",
            details={
                "state": state.value,
                "action": action.value,
                "allowedActions": [a.value for a in allowed_actions(state)],
            },
        )


def next_state(state: CartState, action: Action) -> CartState:
    """The state after `action`, or ActionNotAllowedError."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise ActionNotAllowedError(state, action) from None
