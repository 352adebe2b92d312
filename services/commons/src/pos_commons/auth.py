"""Service-to-service auth: bearer tokens compared in constant time, on HTTP and gRPC alike.

Two roles: the admin token may do everything; the service token may read. A missing token is
401 AUTH_REQUIRED, an unknown one 401 INVALID_TOKEN, a reader on an admin route 403 ADMIN_REQUIRED
(gRPC: UNAUTHENTICATED for the first two; its services only read).
"""

from __future__ import annotations

import hmac
from enum import StrEnum
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from pos_commons.errors import ForbiddenError, UnauthenticatedError
from pos_commons.openapi import BEARER

# Declared so OpenAPI (and Swagger's Authorize) knows the scheme; the header itself is
# checked by TokenVerifier, whose error codes are the API's.
BearerDeclared = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


class Role(StrEnum):
    ADMIN = "admin"
    READER = "reader"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class TokenVerifier:
    def __init__(self, admin_token: str, service_token: str) -> None:
        if not admin_token or not service_token:
            raise ValueError("both tokens are required")
        self._admin = admin_token.encode()
        self._service = service_token.encode()

    def role_of(self, token: str) -> Role | None:
        presented = token.encode()
        # Both comparisons always run so that timing says nothing about which token matched.
        is_admin = hmac.compare_digest(presented, self._admin)
        is_service = hmac.compare_digest(presented, self._service)
        if is_admin:
            return Role.ADMIN
        if is_service:
            return Role.READER
        return None

    def authorize(self, authorization: str | None, required: Role) -> Role:
        token = bearer_token(authorization)
        if token is None:
            raise UnauthenticatedError(
                "A bearer token is required (Authorization: Bearer <token>).",
                code="AUTH_REQUIRED",
            )
        role = self.role_of(token)
        if role is None:
            raise UnauthenticatedError("The bearer token is not valid.", code="INVALID_TOKEN")
        if required is Role.ADMIN and role is not Role.ADMIN:
            raise ForbiddenError("This operation needs the admin token.", code="ADMIN_REQUIRED")
        return role


def _verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


async def require_admin(request: Request, _: BearerDeclared) -> None:
    """FastAPI dependency: the admin token."""
    _verifier(request).authorize(request.headers.get("authorization"), Role.ADMIN)


async def require_reader(request: Request, _: BearerDeclared) -> None:
    """FastAPI dependency: the service token or the admin token."""
    _verifier(request).authorize(request.headers.get("authorization"), Role.READER)
