"""What a service shows besides its API: the OpenAPI pages and /metrics, as settings allow.

In production both are closed unless asked for: the pages (DOCS_ENABLED) list every route and
body to whoever finds them; /metrics (METRICS_TOKEN) tells request rates, routes and error
counts. A closed /metrics answers the same 404 as a route that does not exist.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException

from pos_commons.auth import BearerDeclared, bearer_token
from pos_commons.errors import UnauthenticatedError
from pos_commons.settings import ServiceSettings


@dataclass(frozen=True)
class Exposure:
    docs: bool
    metrics_open: bool
    """/metrics without a token (development without METRICS_TOKEN)."""
    metrics_token: str | None

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Exposure:
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        return cls(
            docs=settings.docs_served,
            metrics_open=token is None and not settings.production,
            metrics_token=token or None,
        )

    def docs_arguments(self) -> dict[str, Any]:
        """FastAPI's arguments for the pages: never its own /docs and /redoc (they load
        Swagger UI and ReDoc from a CDN; pos_commons.docs_pages serves local copies), and
        /openapi.json only when the pages are on."""
        pages = {"docs_url": None, "redoc_url": None}
        return pages if self.docs else {**pages, "openapi_url": None}

    def check_metrics(self, authorization: str | None) -> None:
        if self.metrics_open:
            return
        if self.metrics_token is None:
            raise HTTPException(404, "Not Found")
        presented = bearer_token(authorization)
        if presented is None:
            raise UnauthenticatedError(
                "/metrics needs the metrics token (Authorization: Bearer <token>).",
                code="AUTH_REQUIRED",
            )
        if not hmac.compare_digest(presented.encode(), self.metrics_token.encode()):
            raise UnauthenticatedError("The bearer token is not valid.", code="INVALID_TOKEN")


async def require_metrics_access(request: Request, _: BearerDeclared) -> None:
    """FastAPI dependency of both services' /metrics route."""
    exposure: Exposure = request.app.exposure
    exposure.check_metrics(request.headers.get("authorization"))
