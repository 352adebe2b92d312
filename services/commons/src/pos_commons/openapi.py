"""What the OpenAPI documents of both services declare beyond FastAPI's defaults: the error
answers each operation can give, in the one error envelope, and the bearer-token scheme.

Routes list the statuses they can answer (`error_responses(404, 409, ...)`); the envelope
schema and a description naming the codes come from here, so both services word them alike.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from pos_commons.envelope import ErrorEnvelope

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description=("ADMIN_TOKEN (everything) or SERVICE_TOKEN (reads); for /metrics, METRICS_TOKEN."),
)
"""`Authorization: Bearer <token>`: the admin and service tokens (checked by TokenVerifier)."""

ERROR_ANSWERS: dict[int, str] = {
    400: "The body is not valid JSON (MALFORMED_JSON).",
    401: "No valid credentials: AUTH_REQUIRED, INVALID_TOKEN (bearer tokens), "
    "API_KEY_REQUIRED, INVALID_API_KEY (terminal keys).",
    403: "The service token may only read (ADMIN_REQUIRED).",
    404: "Not found (the codes are in docs/api.md, e.g. CART_NOT_FOUND, ITEM_NOT_FOUND).",
    409: "Refused in the current state (e.g. <ACTION>_NOT_ALLOWED_IN_<STATE>, *_EXISTS).",
    413: "The body is larger than MAX_REQUEST_BYTES (PAYLOAD_TOO_LARGE).",
    422: "Well formed, but not valid: VALIDATION_FAILED (details name each field) or a "
    "business rule's code (docs/api.md).",
    502: "master-data answered something unusable (MASTER_DATA_ERROR, MASTER_DATA_AUTH_FAILED).",
    503: "A dependency cannot be reached, or the service is serving all the requests it may "
    "(OVERLOADED, with Retry-After): DATABASE_UNAVAILABLE; in cart also "
    "MASTER_DATA_UNAVAILABLE, MASTER_DATA_DATABASE_UNAVAILABLE, MASTER_DATA_OVERLOADED.",
    504: "A dependency did not answer in time: DATABASE_TIMEOUT; in cart also MASTER_DATA_TIMEOUT.",
}


def error_responses(*statuses: int, **notes: str) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses` for these error statuses, each with the error envelope. `notes`
    (e.g. ``s404="CART_NOT_FOUND, LINE_NOT_FOUND"``) names the codes one route can give."""
    answers: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        note = notes.get(f"s{status}")
        description = f"{note}." if note else ERROR_ANSWERS[status]
        answers[status] = {"model": ErrorEnvelope, "description": description}
    return answers


DATABASE = (503, 504)
"""Every route that reads or writes MongoDB can answer these."""
BODY = (400, 413, 422)
"""Every route that takes a JSON body can answer these."""


def operation_id(route: APIRoute) -> str:
    """The operationId of a route: its name (unique per service), which generated clients
    turn into their method names (create_cart, not create_cart_api_v1_carts_post)."""
    return route.name
