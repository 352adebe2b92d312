"""Every failure leaves as the error envelope with its own status and code.

`error_response_for` is the single mapping from exception to response; FastAPI's exception
handlers, the body size limit (pos_commons.service_app) and master-data's hot path
(master_data.api.hot_path) all use it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from pos_commons.envelope import error_response
from pos_commons.errors import AppError, UnauthenticatedError
from pos_commons.mongo import database_error

_log = logging.getLogger(__name__)

_HTTP_STATUS_CODES = {
    404: "ROUTE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location)


def validation_fields(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic's errors as VALIDATION_FAILED's details list them: field, message, type."""
    return [
        {
            "field": _field_path(error.get("loc", ())),
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in errors
    ]


def validation_summary(fields: Sequence[dict[str, str]]) -> str:
    return "; ".join(f"{item['field']}: {item['message']}" for item in fields[:5])


def _validation_response(exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(400, "MALFORMED_JSON", "The request body is not valid JSON.")
    fields = validation_fields(errors)
    return error_response(
        422,
        "VALIDATION_FAILED",
        f"Invalid request: {validation_summary(fields)}",
        {"fields": fields},
    )


def error_response_for(exc: Exception) -> Response:
    """The response a failure deserves; anything unexpected is a logged 500."""
    exc = database_error(exc) or exc
    if isinstance(exc, AppError):
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthenticatedError) else None
        if exc.status_code >= 500:
            _log.warning("%s: %s", exc.code, exc.message, extra={"errorCode": exc.code})
        return error_response(exc.status_code, exc.code, exc.message, exc.details, headers)
    if isinstance(exc, RequestValidationError):
        return _validation_response(exc)
    if isinstance(exc, StarletteHTTPException):
        code = _HTTP_STATUS_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else "Request refused."
        return error_response(exc.status_code, code, message, headers=exc.headers)
    _log.error("unhandled error", exc_info=exc)
    # The server closes the connection after an unhandled error (Starlette raises it again
    # once this answer is sent): said here, a pooled client does not send its next request
    # on a connection that is going away and get it reset.
    return error_response(
        500, "INTERNAL_ERROR", "An unexpected error occurred.", headers={"Connection": "close"}
    )


async def _handle(_: Request, exc: Exception) -> Response:
    return error_response_for(exc)


def install_error_handlers(app: FastAPI) -> None:
    for exception_type in (
        AppError,
        RequestValidationError,
        StarletteHTTPException,
        PyMongoError,
        Exception,
    ):
        app.add_exception_handler(exception_type, _handle)
