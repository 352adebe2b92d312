"""The POS cart API: what terminals call, each with its X-API-Key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from starlette.responses import Response

from cart.api.changes import Changes
from cart.api.deps import CartIdPath, CurrentTerminal, LineNoPath, Resources
from cart.api.public import CartPublic, TransactionPublic, encoded_cart
from cart.api.schemas import (
    AddItems,
    DiscountRequest,
    PaymentRequest,
    QuantityChange,
    UnitPriceChange,
)
from cart.domain.operations import ItemRequest
from cart.services import commands
from pos_commons.envelope import Envelope, JsonResponse, ok, ok_encoded
from pos_commons.openapi import ERROR_ANSWERS, error_responses
from pos_commons.service_app import ServiceRouter

MAX_RECEIPT_NO = 2**31 - 1

router = ServiceRouter(
    prefix="/api/v1",
    tags=["cart"],
    # What every terminal route can answer: its key, its parameters and Idempotency-Key,
    # the database; a change, a cart busy with others.
    responses=error_responses(
        401,
        422,
        503,
        504,
        s422="VALIDATION_FAILED, INVALID_IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_REUSED, "
        "IDEMPOTENCY_KEY_EXPIRED (a create's key whose cart expired), or a change's "
        "business rule (docs/api.md: quantities, prices, discounts, payments, and a cart's "
        "limits: CART_LINE_LIMIT, LINE_DISCOUNT_LIMIT, CART_DISCOUNT_LIMIT, PAYMENT_LIMIT, "
        "DISCOUNT_ROUNDS_TO_ZERO, CART_TOTAL_TOO_LARGE)",
        s503=f"{ERROR_ANSWERS[503].removesuffix('.')}; a change of a cart also CART_BUSY (too "
        "many changes of the cart wait already, or this one waited its whole budget: retry)",
    ),
)
CartEnvelope = Envelope[CartPublic]

MISSING = "CART_NOT_FOUND (not this terminal's cart, or expired)"
STATE = (
    "<ACTION>_NOT_ALLOWED_IN_<STATE> (the cart's state refuses it), CART_CONFLICT (other "
    "cart processes changed the cart until this request's budget ended: retry)"
)
LINE = "CART_NOT_FOUND, LINE_NOT_FOUND"
MASTER_DATA_DOWN = (
    "OVERLOADED, DATABASE_UNAVAILABLE, MASTER_DATA_UNAVAILABLE, "
    "MASTER_DATA_DATABASE_UNAVAILABLE, MASTER_DATA_OVERLOADED or CART_BUSY"
)
MASTER_DATA_SLOW = "DATABASE_TIMEOUT or MASTER_DATA_TIMEOUT"
# Routes that take a body, and routes that ask master-data, answer these too.
BODY_ANSWERS = error_responses(400, 413)
MASTER_DATA_ANSWERS = error_responses(502, 503, 504, s503=MASTER_DATA_DOWN, s504=MASTER_DATA_SLOW)


@router.post(
    "/carts",
    status_code=201,
    response_model=CartEnvelope,
    summary="Start a cart",
)
async def create_cart(changes: Changes) -> Response:
    return await changes.start()


@router.get(
    "/carts/{cart_id}",
    response_model=CartEnvelope,
    summary="Get a cart",
    responses=error_responses(404, s404=MISSING),
)
async def get_cart(
    cart_id: CartIdPath, terminal: CurrentTerminal, resources: Resources
) -> Response:
    return ok_encoded(encoded_cart(await resources.carts.get(terminal, cart_id)))


@router.post(
    "/carts/{cart_id}/lineItems",
    response_model=CartEnvelope,
    summary="Add items (one line each; master data fetched in one call for all of them)",
    responses={
        **BODY_ANSWERS,
        **MASTER_DATA_ANSWERS,
        **error_responses(
            404,
            409,
            s404="CART_NOT_FOUND, ITEM_NOT_FOUND (itemCodes in details), or master-data's "
            "TENANT_NOT_FOUND or STORE_NOT_FOUND",
            s409=STATE,
        ),
    },
)
async def add_line_items(
    cart_id: CartIdPath,
    body: AddItems,
    changes: Changes,
) -> Response:
    requests = [
        ItemRequest(entry.item_code, entry.quantity, entry.unit_price) for entry in body.root
    ]
    return await changes.run(cart_id, commands.AddItems(requests), body=body)


@router.post(
    "/carts/{cart_id}/lineItems/{line_no}/cancel",
    response_model=CartEnvelope,
    summary="Cancel a line",
    responses=error_responses(404, 409, s404=LINE, s409=f"{STATE}, LINE_CANCELLED"),
)
async def cancel_line(
    cart_id: CartIdPath,
    line_no: LineNoPath,
    changes: Changes,
) -> Response:
    return await changes.run(cart_id, commands.CancelLine(line_no))


@router.patch(
    "/carts/{cart_id}/lineItems/{line_no}/quantity",
    response_model=CartEnvelope,
    summary="Change a line's quantity",
    responses={
        **BODY_ANSWERS,
        **error_responses(404, 409, s404=LINE, s409=f"{STATE}, LINE_CANCELLED"),
    },
)
async def change_quantity(
    cart_id: CartIdPath,
    line_no: LineNoPath,
    body: QuantityChange,
    changes: Changes,
) -> Response:
    return await changes.run(cart_id, commands.ChangeQuantity(line_no, body.quantity), body=body)


@router.patch(
    "/carts/{cart_id}/lineItems/{line_no}/unitPrice",
    response_model=CartEnvelope,
    summary="Change a line's unit price (the master-data price is kept as the original)",
    responses={
        **BODY_ANSWERS,
        **error_responses(404, 409, s404=LINE, s409=f"{STATE}, LINE_CANCELLED"),
    },
)
async def change_unit_price(
    cart_id: CartIdPath,
    line_no: LineNoPath,
    body: UnitPriceChange,
    changes: Changes,
) -> Response:
    return await changes.run(cart_id, commands.ChangeUnitPrice(line_no, body.unit_price), body=body)


@router.post(
    "/carts/{cart_id}/lineItems/{line_no}/discounts",
    response_model=CartEnvelope,
    summary="Discount a line (amount or percent; refused on discount-restricted items)",
    responses={
        **BODY_ANSWERS,
        **error_responses(404, 409, s404=LINE, s409=f"{STATE}, LINE_CANCELLED"),
    },
)
async def add_line_discount(
    cart_id: CartIdPath,
    line_no: LineNoPath,
    body: DiscountRequest,
    changes: Changes,
) -> Response:
    return await changes.run(
        cart_id, commands.AddLineDiscount(line_no, body.discount_type, body.value), body=body
    )


@router.post(
    "/carts/{cart_id}/subtotal",
    response_model=CartEnvelope,
    summary="Go to payment",
    responses=error_responses(404, 409, s404=MISSING, s409=STATE),
)
async def subtotal(cart_id: CartIdPath, changes: Changes) -> Response:
    return await changes.run(cart_id, commands.Subtotal())


@router.post(
    "/carts/{cart_id}/discounts",
    response_model=CartEnvelope,
    summary="Discount the cart (in payment; spread over the discountable lines)",
    responses={
        **BODY_ANSWERS,
        **error_responses(404, 409, s404=MISSING, s409=f"{STATE}, PAYMENTS_ALREADY_MADE"),
    },
)
async def add_cart_discount(
    cart_id: CartIdPath,
    body: DiscountRequest,
    changes: Changes,
) -> Response:
    return await changes.run(
        cart_id, commands.AddCartDiscount(body.discount_type, body.value), body=body
    )


@router.post(
    "/carts/{cart_id}/payments",
    response_model=CartEnvelope,
    summary="Take a payment",
    responses={
        **BODY_ANSWERS,
        **MASTER_DATA_ANSWERS,
        **error_responses(
            404,
            409,
            s404="CART_NOT_FOUND, PAYMENT_METHOD_NOT_FOUND, or master-data's TENANT_NOT_FOUND",
            s409=f"{STATE}, NOTHING_TO_PAY",
        ),
    },
)
async def add_payment(
    cart_id: CartIdPath,
    body: PaymentRequest,
    changes: Changes,
) -> Response:
    return await changes.run(
        cart_id, commands.AddPayment(body.payment_code, body.amount), body=body
    )


@router.post(
    "/carts/{cart_id}/resume-item-entry",
    response_model=CartEnvelope,
    summary="Back from payment to item entry (before any payment)",
    responses=error_responses(404, 409, s404=MISSING, s409=f"{STATE}, PAYMENTS_ALREADY_MADE"),
)
async def resume_item_entry(cart_id: CartIdPath, changes: Changes) -> Response:
    return await changes.run(cart_id, commands.ResumeItemEntry())


@router.post(
    "/carts/{cart_id}/bill",
    response_model=CartEnvelope,
    summary="Complete the sale (balance covered): receipt number and transaction record; "
    "billing a billed cart again without an Idempotency-Key answers it as it is",
    responses=error_responses(404, 409, s404=MISSING, s409=f"{STATE}, BALANCE_DUE"),
)
async def bill(cart_id: CartIdPath, changes: Changes) -> Response:
    return await changes.run(cart_id, commands.Bill())


@router.post(
    "/carts/{cart_id}/cancel",
    response_model=CartEnvelope,
    summary="Cancel the cart: receipt number and a cancel transaction record (payments "
    "taken are to be given back: totals.refundAmount)",
    responses=error_responses(404, 409, s404=MISSING, s409=STATE),
)
async def cancel_cart(cart_id: CartIdPath, changes: Changes) -> Response:
    return await changes.run(cart_id, commands.CancelCart())


@router.get(
    "/transactions/{receipt_no}",
    response_model=Envelope[TransactionPublic],
    summary="A transaction record of this terminal, by receipt number",
    responses=error_responses(404, s404="TRANSACTION_NOT_FOUND"),
)
async def get_transaction(
    receipt_no: Annotated[int, Path(ge=1, le=MAX_RECEIPT_NO)],
    terminal: CurrentTerminal,
    resources: Resources,
) -> JsonResponse:
    return ok(TransactionPublic.of(await resources.carts.transaction(terminal, receipt_no)))
