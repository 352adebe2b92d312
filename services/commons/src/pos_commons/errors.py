"""The one exception hierarchy both services raise; the envelope turns it into error bodies.

Every error a client can cause has its own HTTP status and a stable machine-readable code.
Codes are part of the API contract: add new ones, never rename.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class AppError(Exception):
    """An error with an HTTP status and a stable code, safe to show to the caller."""

    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = dict(details or {})


class BadRequestError(AppError):
    status_code = 400
    default_code = "BAD_REQUEST"


class UnauthenticatedError(AppError):
    status_code = 401
    default_code = "AUTH_REQUIRED"


class ForbiddenError(AppError):
    status_code = 403
    default_code = "FORBIDDEN"


class NotFoundError(AppError):
    status_code = 404
    default_code = "NOT_FOUND"


class ConflictError(AppError):
    status_code = 409
    default_code = "CONFLICT"


class UnprocessableError(AppError):
    """The request is well formed but the business rules refuse it."""

    status_code = 422
    default_code = "UNPROCESSABLE"


class BadGatewayError(AppError):
    """An upstream answered something this service cannot use."""

    status_code = 502
    default_code = "BAD_GATEWAY"


class ServiceUnavailableError(AppError):
    """A dependency (database or upstream service) cannot be reached."""

    status_code = 503
    default_code = "SERVICE_UNAVAILABLE"


class GatewayTimeoutError(AppError):
    """A dependency did not answer within its time budget."""

    status_code = 504
    default_code = "GATEWAY_TIMEOUT"
