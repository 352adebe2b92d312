"""The one response envelope of both services, camelCase on the wire for success and errors.

Success: ``{"success": true, "data": ..., "meta": {...}?, "requestId": "..."}``
Error:   ``{"success": false, "error": {"code", "message", "details"}, "requestId": "..."}``
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from pos_commons.money import format_decimal
from pos_commons.request_context import request_id_var

T = TypeVar("T")


class ApiModel(BaseModel):
    """Base of every model on the wire: camelCase names, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=False,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
    )


class PageMeta(ApiModel):
    page: int
    limit: int
    total: int


class ErrorBody(ApiModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class Envelope(ApiModel, Generic[T]):
    """Documents the success shape in OpenAPI; handlers return `ok(...)` responses."""

    success: bool = True
    data: T
    meta: PageMeta | None = None
    request_id: str


class ErrorEnvelope(ApiModel):
    success: bool = False
    error: ErrorBody
    request_id: str


def to_wire(model: BaseModel) -> Any:
    """A model's JSON value: camelCase names, decimals as exact strings."""
    return model.model_dump(mode="json", by_alias=True)


def wire_json(model: BaseModel, exclude: set[str] | None = None) -> bytes:
    """`to_wire(model)` encoded, byte for byte, by pydantic's serializer at once (no Python
    dict and strings in between); `exclude`: fields left out."""
    return model.__pydantic_serializer__.to_json(model, by_alias=True, exclude=exclude)


def _encode_other(value: Any) -> Any:
    # orjson calls this only for types it does not know, so plain data costs nothing extra.
    if isinstance(value, BaseModel):
        return orjson.Fragment(wire_json(value))
    if isinstance(value, Decimal):
        return format_decimal(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_encode_other)


def ok(
    data: Any,
    *,
    status_code: int = 200,
    meta: PageMeta | None = None,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if meta is not None:
        body["meta"] = meta
    body["requestId"] = request_id_var.get()
    return JsonResponse(body, status_code=status_code, headers=headers)


def ok_encoded(
    data: bytes, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A success answer whose `data` is already JSON (encoded once, e.g. kept to be replayed)."""
    body = b'{"success":true,"data":%s,"requestId":%s}' % (data, orjson.dumps(request_id_var.get()))
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    body = {
        "success": False,
        "error": {"code": code, "message": message, "details": dict(details or {})},
        "requestId": request_id_var.get(),
    }
    return JsonResponse(body, status_code=status_code, headers=headers)
