"""The identifiers a request names, checked one way (same codes, same words) on every HTTP
route, the item hot path and the gRPC servicers: 422 / INVALID_ARGUMENT with
`INVALID_TENANT_ID`, `INVALID_CODE`, `INVALID_BATCH_SIZE` or `INVALID_RESUME_TOKEN`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator

from pos_commons.errors import UnprocessableError
from pos_commons.limits import MAX_ITEMS_PER_LOOKUP
from pos_commons.validation import (
    CODE_REGEX,
    TENANT_ID_REGEX,
    is_code,
    is_resume_token,
    is_tenant_id,
)


def check_tenant_id(tenant_id: str) -> str:
    if not is_tenant_id(tenant_id):
        raise UnprocessableError(f"Tenant id {tenant_id!r} is malformed.", code="INVALID_TENANT_ID")
    return tenant_id


def check_code(what: str, value: str) -> str:
    """`what` in the API's words: "Store code", "Item code", "Payment code"."""
    if not is_code(value):
        raise UnprocessableError(f"{what} {value!r} is malformed.", code="INVALID_CODE")
    return value


class ResumeTokenError(UnprocessableError):
    default_code = "INVALID_RESUME_TOKEN"


def check_resume_token(token: str) -> str:
    """A catalog feed token as the feed gives them out (the database still has to accept it)."""
    if not is_resume_token(token):
        raise ResumeTokenError(
            "The resume token is malformed: give back a token the feed sent, as it came."
        )
    return token


def check_item_codes(codes: Sequence[str]) -> None:
    """A batch lookup's codes: 1 to MAX_ITEMS_PER_LOOKUP of them, each well formed."""
    if not codes or len(codes) > MAX_ITEMS_PER_LOOKUP:
        raise UnprocessableError(
            f"Give between 1 and {MAX_ITEMS_PER_LOOKUP} item codes.", code="INVALID_BATCH_SIZE"
        )
    invalid = [code for code in codes if not is_code(code)]
    if invalid:
        raise UnprocessableError(
            f"Malformed item codes: {', '.join(repr(c) for c in invalid[:5])}.",
            code="INVALID_CODE",
            details={"itemCodes": invalid[:20]},
        )


# FastAPI path parameters checked by the functions above. An AppError raised by a validator
# is not a ValueError, so pydantic lets it through to the app's error handler: the route
# answers the same code as the hot path instead of a generic VALIDATION_FAILED. The pattern
# stays in the OpenAPI schema.
def _code_path(what: str) -> AfterValidator:
    return AfterValidator(lambda value: check_code(what, value))


TenantPath = Annotated[
    str,
    Path(description="Tenant id.", json_schema_extra={"pattern": TENANT_ID_REGEX}),
    AfterValidator(check_tenant_id),
]
StorePath = Annotated[
    str,
    Path(description="Store code.", json_schema_extra={"pattern": CODE_REGEX}),
    _code_path("Store code"),
]
CodePath = Annotated[str, Path(json_schema_extra={"pattern": CODE_REGEX}), _code_path("Code")]
