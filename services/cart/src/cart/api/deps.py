"""What cart's routes read from the app: resources, the calling terminal, path parameters.

FastAPI solves every dependency of a route again on each request, and the cost grows with
their number and depth (each one's cache key walks its sub-dependencies), so the terminal's
key is a security scheme that resolves to the terminal itself, not a key string a second
dependency then looks up; a change route's one dependency is that scheme again, resolving
to the terminal's changes (cart/api/changes.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader
from starlette.requests import HTTPConnection

from cart.resources import CartResources
from cart.storage.terminals import Terminal


def resources_of(connection: HTTPConnection) -> CartResources:
    resources: CartResources = connection.app.state.resources
    return resources


async def get_resources(request: Request) -> CartResources:
    return resources_of(request)


class TerminalKey(APIKeyHeader):
    """The terminal whose X-API-Key came with the request (401 without a valid one),
    documented in OpenAPI as the `terminalKey` scheme."""

    async def __call__(self, request: HTTPConnection) -> Terminal:  # type: ignore[override]
        api_key = request.headers.get(self.model.name)
        return await resources_of(request).terminals.authenticate(api_key)


TERMINAL_KEY_SCHEME: dict[str, Any] = {
    "name": "X-API-Key",
    "auto_error": False,  # authenticate() answers the project's own 401 codes
    "scheme_name": "terminalKey",
    "description": "A terminal's API key (POST /api/v1/terminals issues one).",
}
"""How the terminal key is documented, by every scheme that reads it."""
TERMINAL_KEY = TerminalKey(**TERMINAL_KEY_SCHEME)

Resources = Annotated[CartResources, Depends(get_resources)]
CurrentTerminal = Annotated[Terminal, Security(TERMINAL_KEY)]
CartIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Cart id.")]
LineNoPath = Annotated[int, Path(ge=1, le=100_000, description="Line number.")]
