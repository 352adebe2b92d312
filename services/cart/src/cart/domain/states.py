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


def _snake_upper(name: str) -> str:
    return "".join(f"_{c}" if c.isupper() else c for c in name).upper().lstrip("_")


def allowed_actions(state: CartState) -> list[Action]:
    return [action for (from_state, action) in TRANSITIONS if from_state is state]


class ActionNotAllowedError(ConflictError):
    """409 with a code naming the action and the state, e.g. BILL_NOT_ALLOWED_IN_ENTERING_ITEM."""

    def __init__(self, state: CartState, action: Action) -> None:
        super().__init__(
            f"Cannot {action.value} a cart in state {state.value}.",
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
