"""What cart's routes read from the app: resources, the calling terminal, path parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request, Security

from cart.resources import CartResources
from cart.storage.terminals import Terminal
from pos_commons.openapi import TERMINAL_KEY


async def get_resources(request: Request) -> CartResources:
    resources: CartResources = request.app.state.resources
    return resources


async def current_terminal(
    request: Request, api_key: Annotated[str | None, Security(TERMINAL_KEY)]
) -> Terminal:
    """The terminal whose X-API-Key came with the request (401 without a valid one)."""
    resources: CartResources = request.app.state.resources
    return await resources.terminals.authenticate(api_key)


Resources = Annotated[CartResources, Depends(get_resources)]
CurrentTerminal = Annotated[Terminal, Depends(current_terminal)]
CartIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Cart id.")]
LineNoPath = Annotated[int, Path(ge=1, le=100_000, description="Line number.")]
