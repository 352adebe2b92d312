"""The identifiers a lookup names, checked the same way (same codes, same words) on the HTTP
item routes and the gRPC servicers."""

from __future__ import annotations

from pos_commons.errors import UnprocessableError
from pos_commons.validation import is_code, is_tenant_id


def check_tenant_id(tenant_id: str) -> None:
    if not is_tenant_id(tenant_id):
        raise UnprocessableError(f"Tenant id {tenant_id!r} is malformed.", code="INVALID_TENANT_ID")


def check_code(what: str, value: str) -> None:
    """`what` in the API's words: "Store code", "Item code", "Payment code"."""
    if not is_code(value):
        raise UnprocessableError(f"{what} {value!r} is malformed.", code="INVALID_CODE")
